"""Each escalation rule, named after the rule."""

from __future__ import annotations

from classifier.case import CaseContext, Money
from classifier.policy import EscalationDecision, EscalationPolicy

POLICY = EscalationPolicy(amount_limit=1000, previous_contacts_limit=3)


def decide(
    context: CaseContext, departments: list[str] | None = None, probability: float = 0.1
) -> EscalationDecision:
    return POLICY.decide(
        probability=probability, threshold=0.5, context=context, departments=departments or []
    )


def test_vip_customer_is_always_escalated() -> None:
    decision = decide(CaseContext(tier="VIP"))
    assert decision.escalate
    assert decision.reasons == ("customer tier is vip",)


def test_three_previous_contacts_escalate() -> None:
    decision = decide(CaseContext(previous_contacts=3))
    assert decision.escalate
    assert "contacted us 3 times" in decision.reasons[0]


def test_two_previous_contacts_do_not_escalate() -> None:
    assert not decide(CaseContext(previous_contacts=2)).escalate


def test_amount_at_the_limit_escalates() -> None:
    decision = decide(CaseContext(amount=Money(value=1000, currency="GBP")))
    assert decision.escalate
    assert "1,000.00 GBP" in decision.reasons[0]


def test_amount_below_the_limit_does_not_escalate() -> None:
    assert not decide(CaseContext(amount=Money(value=999.99, currency="EUR"))).escalate


def test_amount_limit_is_configurable() -> None:
    strict = EscalationPolicy(amount_limit=50)
    decision = strict.decide(
        probability=0.0,
        threshold=0.5,
        context=CaseContext(amount=Money(value=60)),
        departments=[],
    )
    assert decision.escalate


def test_senior_management_predicted_escalates() -> None:
    decision = decide(CaseContext(), departments=["finance", "senior_management"])
    assert decision.escalate
    assert decision.reasons == ("senior management must decide",)


def test_model_probability_at_threshold_escalates_with_its_reason() -> None:
    decision = decide(CaseContext(), probability=0.5)
    assert decision.escalate
    assert decision.reasons[0].startswith("model escalation probability 0.50")


def test_no_rule_and_low_probability_does_not_escalate() -> None:
    decision = decide(CaseContext(tier="gold", previous_contacts=1), probability=0.49)
    assert not decision.escalate
    assert decision.reasons == ()


def test_every_reason_is_reported_when_several_rules_fire() -> None:
    context = CaseContext(tier="vip", previous_contacts=5, amount=Money(value=5000))
    decision = decide(context, departments=["senior_management"], probability=0.9)
    assert len(decision.reasons) == 5
