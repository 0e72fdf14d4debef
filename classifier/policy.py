"""Escalation: the model's probability combined with explicit rules, each with a reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from classifier.case import CaseContext
from classifier.money import Amount
from classifier.settings import Settings
from classifier.signals import Signal, detect


@dataclass(frozen=True)
class EscalationDecision:
    escalate: bool
    probability: float
    reasons: tuple[str, ...]
    signals: tuple[Signal, ...] = ()


@dataclass(frozen=True)
class EscalationPolicy:
    """Explicit rules that escalate whatever the model says: the case context (tier, contacts,
    amount), senior_management predicted, and the escalation signals in the text. The model
    escalates on its own when its probability reaches its threshold."""

    amount_limit: float = 1000.0
    previous_contacts_limit: int = 3

    @classmethod
    def of(cls, settings: Settings) -> EscalationPolicy:
        """The policy the settings' escalation limits describe."""
        return cls(settings.escalation_amount_limit, settings.escalation_previous_contacts)

    def rule_reasons(self, context: CaseContext, departments: list[str]) -> list[str]:
        reasons = []
        if (context.tier or "").strip().lower() == "vip":
            reasons.append("customer tier is vip")
        if context.previous_contacts >= self.previous_contacts_limit:
            reasons.append(f"customer has contacted us {context.previous_contacts} times before")
        if context.amount is not None and context.amount.value >= self.amount_limit:
            reasons.append(
                f"amount {context.amount.value:,.2f} {context.amount.currency} is at or over "
                f"the limit of {self.amount_limit:,.0f}"
            )
        if "senior_management" in departments:
            reasons.append("senior management must decide")
        return reasons

    def signals(self, text: str, found: Sequence[Amount] | None = None) -> list[Signal]:
        """The guide's escalation criteria that the text shows in words (`found`: the money
        amounts in it, when already known)."""
        return detect(text, amount_limit=self.amount_limit, found=found)

    def decide(
        self,
        *,
        probability: float,
        threshold: float,
        context: CaseContext,
        departments: list[str],
        signals: Sequence[Signal] = (),
    ) -> EscalationDecision:
        reasons = []
        if probability >= threshold:
            reasons.append(
                f"model escalation probability {probability:.2f} is at or over {threshold:.2f}"
            )
        reasons.extend(self.rule_reasons(context, departments))
        reasons.extend(f'{signal.reason}: "{signal.phrase}"' for signal in signals)
        return EscalationDecision(bool(reasons), probability, tuple(reasons), tuple(signals))
