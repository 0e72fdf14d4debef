"""Drafting: every department renders from the catalogue; complaint text is data."""

from __future__ import annotations

from datetime import UTC, datetime

import jinja2
import pytest

from classifier.catalogue import DEPARTMENT_IDS, Catalogue
from classifier.drafting import CaseFacts, DepartmentFinding, Drafter, references_in
from classifier.settings import Settings
from classifier.working_hours import WorkingHours

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
INJECTION = "{{7*7}} {% for x in range(3) %}loop{% endfor %} {{ ''.__class__ }}"


@pytest.fixture
def drafter(project_settings: Settings, catalogue: Catalogue) -> Drafter:
    return Drafter(project_settings.templates_dir, catalogue, WorkingHours(9, 17))


def facts(
    departments: tuple[str, ...],
    *,
    text: str = "My order 123456 cost €250.00.",
    escalate: bool = False,
    heard: str | None = None,
) -> CaseFacts:
    return CaseFacts(
        case_ref="CRM-4242",
        text=text,
        summary=text,
        departments=tuple(
            DepartmentFinding(d, 0.8, ("charged twice",), ("I was charged twice.",))
            for d in departments
        ),
        escalate=escalate,
        escalation_reasons=("customer tier is vip",) if escalate else (),
        needs_review=False,
        customer_name="Ana Silva",
        channel="email",
        tier="vip" if escalate else None,
        previous_contacts=1,
        amount=None,
        heard=heard,
    )


@pytest.mark.parametrize("department", DEPARTMENT_IDS)
def test_every_department_handoff_renders_from_the_catalogue(
    drafter: Drafter, catalogue: Catalogue, department: str
) -> None:
    case = facts((department, "finance" if department != "finance" else "sales"))
    draft = drafter.handoff(case.departments[0], case, MONDAY_10)
    entry = catalogue[department]
    hours = entry.service_level_hours
    assert draft.due == WorkingHours(9, 17).add(MONDAY_10, hours)
    assert "CRM-4242" in draft.subject and entry.name in draft.subject
    for expected in (
        entry.name,
        entry.ask,
        entry.contact,
        "Priority: NORMAL",
        "acknowledge",
        "I was charged twice.",
        "123456",
        "€250.00",
    ):
        assert expected in draft.body, expected
    assert draft.due.strftime("%d %b %Y %H:%M") in draft.body
    assert "Also involved:" in draft.body


def test_escalated_handoff_uses_the_shorter_service_level(
    drafter: Drafter, catalogue: Catalogue
) -> None:
    case = facts(("legal_compliance",), escalate=True)
    draft = drafter.handoff(case.departments[0], case, MONDAY_10)
    hours = catalogue["legal_compliance"].escalated_service_level_hours
    assert draft.due == WorkingHours(9, 17).add(MONDAY_10, hours)
    assert "Priority: HIGH (escalated)" in draft.body
    assert "customer tier is vip" in draft.body


def test_complaint_text_is_rendered_as_data_not_as_a_template(drafter: Drafter) -> None:
    case = facts(("finance",), text=INJECTION, heard=INJECTION)
    case = CaseFacts(
        **{
            **case.__dict__,
            "summary": INJECTION,
            "departments": (DepartmentFinding("finance", 0.9, (INJECTION,), (INJECTION,)),),
        }
    )
    handoff = drafter.handoff(case.departments[0], case, MONDAY_10)
    message = drafter.customer_message(case, MONDAY_10)
    for body in (handoff.body, message.body):
        assert "{{7*7}}" in body
        assert "49" not in body
        assert "{% for x in range(3) %}loop{% endfor %}" in body
        assert "<class" not in body


def test_customer_message_follows_heat_and_hides_internal_details(
    drafter: Drafter, catalogue: Catalogue
) -> None:
    case = facts(("finance", "legal_compliance"), heard="I was charged twice.", escalate=True)
    handoffs = [drafter.handoff(f, case, MONDAY_10) for f in case.departments]
    reply_by = drafter.reply_by(handoffs, MONDAY_10)
    message = drafter.customer_message(case, reply_by)
    body = message.body
    assert "CRM-4242" in message.subject and "CRM-4242" in body
    assert 'You wrote: "I was charged twice."' in body  # hear
    assert "frustrating" in body  # empathise
    assert "sorry" in body  # apologise
    assert "taking ownership" in body  # take ownership
    assert catalogue["finance"].customer_step in body  # the next step
    assert f"by {reply_by.strftime('%A')}" in body and str(reply_by.year) in body
    for department in DEPARTMENT_IDS:
        assert department not in body
        assert catalogue.name(department) not in body
    assert "probability" not in body.lower() and "%" not in body
    assert "vip" not in body.lower()


def test_customer_hears_back_when_the_last_department_is_due(
    drafter: Drafter, catalogue: Catalogue
) -> None:
    case = facts(("logistics_operations", "product_management"))
    handoffs = [drafter.handoff(f, case, MONDAY_10) for f in case.departments]
    slowest = max(
        catalogue[d].service_level_hours for d in ("logistics_operations", "product_management")
    )
    assert drafter.reply_by(handoffs, MONDAY_10) == WorkingHours(9, 17).add(MONDAY_10, slowest)


def test_environment_is_sandboxed_and_strict(drafter: Drafter) -> None:
    assert isinstance(drafter.env, jinja2.sandbox.SandboxedEnvironment)
    with pytest.raises(jinja2.UndefinedError):
        drafter.env.from_string("{{ missing_variable }}").render()
    with pytest.raises(jinja2.exceptions.SecurityError):
        drafter.env.from_string("{{ ''.__class__.__mro__ }}").render()


def test_references_and_amounts_are_quoted_for_departments() -> None:
    found = references_in("Order AB-884213 and invoice 2026/0042, charged £89.99 and 40 EUR.")
    assert "AB-884213" in found["references"]
    assert "£89.99" in found["amounts"] and "40 EUR" in found["amounts"]


def test_evidence_terms_read_as_plain_quoted_text(drafter: Drafter) -> None:
    case = facts(("finance",))
    finding = DepartmentFinding("finance", 0.9, ("<script>", "charged twice"), ())
    case = CaseFacts(**{**case.__dict__, "departments": (finding,)})
    body = drafter.handoff(finding, case, MONDAY_10).body
    assert "“<script>”, “charged twice”" in body  # a plain-text note: no JSON escapes
    assert "\\u003c" not in body
