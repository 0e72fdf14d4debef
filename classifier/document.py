"""A triage as a JSON document: what the API returns and what the store keeps, one shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the service imports this module to store what it returns
    from classifier.triage import Classification, TriageResult


def triage_document(result: TriageResult, names: dict[str, str]) -> dict[str, Any]:
    """`result` as plain JSON data; department names come from the catalogue's `names`."""
    return {
        "triage_id": result.triage_id,
        "case_ref": result.case_ref,
        **classification_document(result.classification),
        "created": result.created.isoformat(),
        "summary": result.summary,
        "handoffs": [
            {
                "id": handoff_id,
                "department": h.department,
                "name": names[h.department],
                "subject": h.subject,
                "body": h.body,
                "due": h.due.isoformat(),
            }
            for handoff_id, h in zip(result.handoff_ids, result.handoffs, strict=True)
        ],
        "customer_message": {
            "subject": result.customer_message.subject,
            "body": result.customer_message.body,
            "reply_by": result.reply_by.isoformat(),
        },
        "stored": result.stored,
    }


def classification_document(c: Classification) -> dict[str, Any]:
    """What the model and the policy decided, without drafts, as plain JSON data."""
    return {
        "model_version": c.model_version,
        "departments": [
            {
                "id": d.id,
                "name": d.name,
                "probability": round(d.probability, 4),
                "threshold": d.threshold,
                "evidence": list(d.terms),
                "quotes": [{"text": q.text, "start": q.start, "end": q.end} for q in d.quotes],
            }
            for d in c.departments
        ],
        "probabilities": dict(c.probabilities),
        "escalation": {
            "escalate": c.escalation.escalate,
            "probability": round(c.escalation.probability, 4),
            "reasons": list(c.escalation.reasons),
            "evidence": list(c.escalation_evidence),
            "signals": [
                {"reason": g.reason, "phrase": g.phrase, "start": g.start, "end": g.end}
                for g in c.escalation.signals
            ],
        },
        "needs_review": c.needs_review,
        "review_reasons": list(c.review_reasons),
        "language": c.language,
    }
