"""Helpers for the web UI tests: reading pages and posting to them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient

from classifier.store import Store

HTMX = {"HX-Request": "true"}
COMPLAINT = (
    "I was charged twice for order 558120 and I want a refund of the second payment of "
    "£89.99 to my card. Please sort this out."
)
ANGRY = (
    "I was charged twice for order 558120 and the blender arrived broken, the motor smokes. "
    "I want a refund of the second payment now or I will take you to court. "
    "This is my third email."
)


class Page(HTMLParser):
    """The controls, labels, marks and ids of a page, read the way a browser reads them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.ids: list[str] = []
        self.marks: list[dict[str, Any]] = []
        self.scripts: list[str] = []
        self.links: list[str] = []
        self._mark: dict[str, Any] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            self.controls.append({"tag": tag, **attributes})
        elif tag == "label" and attributes.get("for"):
            self.label_for.add(str(attributes["for"]))
        elif tag == "mark" and "data-start" in attributes:  # not the legend
            self._mark = {**attributes, "text": ""}
        elif tag == "script":
            self.scripts.append(str(attributes.get("src")))
        elif tag == "link":
            self.links.append(str(attributes.get("href")))

    def handle_data(self, data: str) -> None:
        if self._mark is not None:
            self._mark["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark" and self._mark is not None:
            self.marks.append(self._mark)
            self._mark = None

    def control(self, control_id: str) -> dict[str, str | None]:
        (found,) = [c for c in self.controls if c.get("id") == control_id]
        return found

    def unlabelled(self) -> list[str]:
        return [
            str(c.get("id") or c.get("name"))
            for c in self.controls
            if c.get("id") not in self.label_for and not c.get("aria-label")
        ]


def triage_id_of(page: str) -> str:
    match = re.search(r'data-triage-id="([0-9a-f-]{36})"', page)
    assert match, "no triage on the page"
    return match.group(1)


def store_of(client: TestClient) -> Store:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    return store


def fragment(client: TestClient, text: str = ANGRY, **fields: str) -> tuple[str, Page]:
    response = client.post("/", data={"text": text, **fields}, headers=HTMX)
    assert response.status_code == 200, response.text
    return response.text, Page(response.text)


# -- the form and the static files ------------------------------------------------------------
