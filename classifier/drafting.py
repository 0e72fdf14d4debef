"""All drafting goes through one sandboxed Jinja environment with StrictUndefined.

Templates receive plain data only (strings, numbers, lists, dicts), never objects with
methods. Complaint text is passed as a value and never compiled, so `{{7*7}}` written by a
customer stays literal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from classifier.catalogue import Catalogue
from classifier.money import Amount, amounts
from classifier.redact import find
from classifier.working_hours import WorkingHours

# The lookahead only says what the pattern can start with, so positions are ruled out at once.
_REFERENCE = re.compile(r"(?=[A-Z#\d])(?<![\w-])(?:[A-Z]{1,5}[-#/]?)?#?\d{4,}(?:[-/]\d+)*(?![\w-])")


@dataclass(frozen=True)
class Draft:
    subject: str
    body: str


@dataclass(frozen=True)
class HandoffDraft(Draft):
    department: str
    due: datetime


@dataclass(frozen=True)
class DepartmentFinding:
    id: str
    probability: float
    terms: tuple[str, ...]
    quotes: tuple[str, ...]


@dataclass(frozen=True)
class CaseFacts:
    """Everything a draft may say about the case, as plain data."""

    case_ref: str
    text: str
    summary: str
    departments: tuple[DepartmentFinding, ...]
    escalate: bool
    escalation_reasons: tuple[str, ...]
    needs_review: bool
    customer_name: str | None
    channel: str | None
    tier: str | None
    previous_contacts: int
    amount: str | None
    heard: str | None
    # the money amounts written in `text`, when already found (else drafting finds them)
    amounts_found: tuple[Amount, ...] | None = None


def references_in(text: str, found: Sequence[Amount] | None = None) -> dict[str, list[str]]:
    """Order, account and ticket numbers and money amounts quoted in the complaint (`found`:
    the amounts, when already known)."""

    def unique(items: list[str]) -> list[str]:
        return list(dict.fromkeys(i.strip() for i in items))[:8]

    references = list(_REFERENCE.finditer(text))
    if references:  # the digit groups of a phone or card number are no case reference
        personal = find(text)
        references = [
            r for r in references
            if not any(p.start < r.end() and r.start() < p.end for p in personal)
        ]  # fmt: skip
    return {
        "references": unique([r.group() for r in references]),
        "amounts": unique([a[1] for a in (amounts(text) if found is None else found)]),
    }


def _when(moment: datetime) -> str:
    return moment.strftime("%a %d %b %Y %H:%M %Z").strip()


def _day(moment: datetime) -> str:
    return moment.strftime("%A %d %B %Y").replace(" 0", " ")


class Drafter:
    """Renders handoff notes and the customer update from templates and the catalogue."""

    def __init__(
        self,
        templates_dir: Path,
        catalogue: Catalogue,
        working_hours: WorkingHours,
        *,
        front_line_reply_hours: float = 16.0,
    ) -> None:
        self.catalogue = catalogue
        self.working_hours = working_hours
        self.front_line_reply_hours = front_line_reply_hours
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(templates_dir)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # Templates are read once, as the catalogue is: a restart picks up edits. Checking
            # each file's time on every draft cost a tenth of the drafting.
            auto_reload=False,
        )
        # department id -> its handoff template, or the default one; looked up once, because
        # a missing file is not remembered by Jinja and was searched for on every draft
        self._handoff_templates: dict[str, Template] = {}

    def _render(self, template: Template, context: dict[str, Any]) -> Draft:
        shared = template.new_context(context)  # one context serves both blocks

        def block(name: str) -> str:
            return "".join(template.blocks[name](shared)).strip()

        return Draft(subject=" ".join(block("subject").split()), body=block("body"))

    def _case(self, case: CaseFacts) -> dict[str, Any]:
        return {
            "case_ref": case.case_ref,
            "summary": case.summary,
            "priority": "HIGH" if case.escalate else "NORMAL",
            "escalate": case.escalate,
            "escalation_reasons": list(case.escalation_reasons),
            "needs_review": case.needs_review,
            "customer_name": case.customer_name,
            "channel": case.channel,
            "tier": case.tier,
            "previous_contacts": case.previous_contacts,
            "amount": case.amount,
            **references_in(case.text, case.amounts_found),
        }

    def drafts(self, case: CaseFacts, now: datetime) -> tuple[list[HandoffDraft], datetime, Draft]:
        """Every department's handoff, when the customer hears back, and their update."""
        shared = self._case(case)  # the text is searched for references once, not per draft
        handoffs = [self._handoff(f, case, now, shared) for f in case.departments]
        reply_by = self.reply_by(handoffs, now)
        return handoffs, reply_by, self.customer_message(case, reply_by)

    def handoff(self, finding: DepartmentFinding, case: CaseFacts, now: datetime) -> HandoffDraft:
        return self._handoff(finding, case, now, self._case(case))

    def _handoff(
        self, finding: DepartmentFinding, case: CaseFacts, now: datetime, shared: dict[str, Any]
    ) -> HandoffDraft:
        department = self.catalogue[finding.id]
        due = self.working_hours.add(now, department.service_level(escalated=case.escalate))
        context = {
            **shared,
            "department": {
                "name": department.name,
                "function": department.function,
                "contact": department.contact,
                "ask": department.ask,
                "needs": list(department.needs),
                "service_level_hours": department.service_level(escalated=case.escalate),
            },
            "probability": round(finding.probability, 2),
            "evidence_terms": list(finding.terms),
            "evidence_quotes": list(finding.quotes),
            "also_involved": [
                self.catalogue.name(f.id) for f in case.departments if f.id != finding.id
            ],
            "due": _when(due),
        }
        draft = self._render(self._handoff_template(finding.id), context)
        return HandoffDraft(draft.subject, draft.body, department=finding.id, due=due)

    def _handoff_template(self, department: str) -> Template:
        template = self._handoff_templates.get(department)
        if template is None:
            template = self._handoff_templates[department] = self.env.select_template(
                [f"handoff/{department}.txt.j2", "handoff/default.txt.j2"]
            )
        return template

    def reply_by(self, handoffs: list[HandoffDraft], now: datetime) -> datetime:
        """When the customer hears from us next: once every department is due to have
        answered, or the front line's own reply time when no department is involved."""
        if handoffs:
            return max(h.due for h in handoffs)
        return self.working_hours.add(now, self.front_line_reply_hours)

    def customer_message(self, case: CaseFacts, reply_by: datetime) -> Draft:
        context = {
            "case_ref": case.case_ref,
            "customer_name": case.customer_name,
            "heard": case.heard,
            "escalate": case.escalate,
            "steps": [self.catalogue[f.id].customer_step for f in case.departments],
            "reply_by": _day(reply_by),
        }
        return self._render(self.env.get_template("customer/update.txt.j2"), context)
