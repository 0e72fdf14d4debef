"""Rendering the agents' pages: one Jinja environment per templates directory.

Autoescaping is on for every template and the complaint is only ever passed as data, so a
complaint holding markup is shown as text, never run.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from classifier.catalogue import DEPARTMENT_IDS


def _moment(value: datetime | str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(zone)


class Pages:
    def __init__(self, templates_dir: Path, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir / "web")),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = self.when
        self.env.filters["iso"] = lambda value: _moment(value, self.zone).isoformat()
        self.env.globals["department_ids"] = DEPARTMENT_IDS

    def when(self, value: datetime | str) -> str:
        """The way the drafts write times: `Tue 24 Nov 2026 14:53 UTC`."""
        return _moment(value, self.zone).strftime("%a %d %b %Y %H:%M %Z")

    def html(self, template: str, status_code: int = 200, **context: object) -> HTMLResponse:
        body = self.env.get_template(template).render(**context)
        return HTMLResponse(body, status_code=status_code)


@lru_cache(maxsize=4)
def _pages(templates_dir: Path, timezone: str) -> Pages:
    return Pages(templates_dir, timezone)


def pages(request: Request) -> Pages:
    settings = request.app.state.settings
    return _pages(settings.templates_dir, settings.timezone)


def from_htmx(request: Request) -> bool:
    """htmx asked for a fragment to swap in; a plain browser wants the whole page."""
    return request.headers.get("HX-Request") == "true"
