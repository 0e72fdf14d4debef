"""The use case: complaint text + case context -> TriageResult.

The API, the web page, the CLI and batch jobs call this, never the model directly.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from classifier.case import CaseContext
from classifier.catalogue import Catalogue
from classifier.document import triage_document
from classifier.drafting import CaseFacts, DepartmentFinding, Draft, Drafter, HandoffDraft
from classifier.evidence import Passage, Span, find_evidence, summary
from classifier.language import detect_language
from classifier.masking import StoredMasking, own_values
from classifier.model import FeatureRow, Matrix
from classifier.policy import EscalationDecision, EscalationPolicy
from classifier.redact import Redactor
from classifier.registry import LoadedModel, ModelHolder
from classifier.settings import Settings
from classifier.store import Correction, DatabaseBusy, NewHandoff, NewTriage, Store
from classifier.working_hours import WorkingHours
from classifier.writer import TriageWriter

ESCALATE = "escalate"
log = logging.getLogger(__name__)


class ModelNotReady(RuntimeError):
    """No verified model is loaded yet."""


@dataclass(frozen=True)
class LabelResult:
    id: str
    name: str
    probability: float
    threshold: float
    terms: tuple[str, ...]
    quotes: tuple[Span, ...]


@dataclass(frozen=True)
class Classification:
    model_version: str
    departments: tuple[LabelResult, ...]
    probabilities: dict[str, float]
    escalation: EscalationDecision
    escalation_evidence: tuple[str, ...]
    needs_review: bool
    review_reasons: tuple[str, ...]
    language: str | None = None  # detected; None when the text is too short to tell


@dataclass(frozen=True)
class TriageResult:
    triage_id: str
    case_ref: str
    created: datetime
    classification: Classification
    summary: str
    handoffs: tuple[HandoffDraft, ...]
    customer_message: Draft
    reply_by: datetime
    handoff_ids: tuple[str, ...] = ()  # one per handoff: how the store and the API name it
    # False when the database stayed locked: the triage is returned all the same, but its
    # id names no stored record (no feedback, handoff confirmation or lookup by id).
    stored: bool = True


class TriageService:
    def __init__(
        self,
        *,
        holder: ModelHolder,
        catalogue: Catalogue,
        policy: EscalationPolicy,
        drafter: Drafter,
        review_margin: float,
        clock: Callable[[], datetime],
        review_min_words: int = 3,
        store: Store | None = None,
        masking: StoredMasking | None = None,
        writer: TriageWriter | None = None,
    ) -> None:
        self.holder = holder
        self.catalogue = catalogue
        self.policy = policy
        self.drafter = drafter
        self.review_margin = review_margin
        self.review_min_words = review_min_words
        self.clock = clock
        self.store = store
        self.masking = masking  # None: stored as written (mask_stored_text off)
        self.writer = writer  # stores for `triage_async`; its store is `store`
        # Called with every finished triage (the server's metrics count them here).
        self.listeners: list[Callable[[TriageResult], None]] = []

    def _loaded(self) -> LoadedModel:
        loaded = self.holder.current
        if loaded is None:
            raise ModelNotReady("no verified model is loaded")
        return loaded

    def classify_many(
        self, texts: Sequence[str], contexts: Sequence[CaseContext]
    ) -> list[Classification]:
        """Departments, escalation and review flags for many complaints, without drafts."""
        return [c for c, _ in self._classify_many(texts, contexts)]

    def _classify_many(
        self, texts: Sequence[str], contexts: Sequence[CaseContext]
    ) -> list[tuple[Classification, Passage]]:
        """One vectorisation for the whole batch; its rows serve each text's evidence too."""
        if len(texts) <= 1:
            return [self._classify_one(t, c) for t, c in zip(texts, contexts, strict=True)]
        loaded = self._loaded()
        probabilities, rows = loaded.model.predict_proba_rows(list(texts))
        classified = []
        for text, context, p, row in zip(texts, contexts, probabilities, rows, strict=True):
            passage = Passage.of(text)
            classified.append(
                (self._classification(loaded, passage, context, list(map(float, p)), row), passage)
            )
        return classified

    def _classify_one(self, text: str, context: CaseContext) -> tuple[Classification, Passage]:
        """The fast path: vectorize once and reuse the row for evidence; the text's cuts are
        returned for the drafts."""
        loaded = self._loaded()
        model = loaded.model
        passage = Passage.of(text)
        row = model.vectorize_one(text, passage.words)
        weights = model.row_weights(row)  # for the probabilities and then the evidence
        proba = model.predict_proba_row(row, weights).tolist()
        return self._classification(loaded, passage, context, proba, row, weights), passage

    def _classification(
        self,
        loaded: LoadedModel,
        passage: Passage,
        context: CaseContext,
        row: list[float],
        features: FeatureRow | None,
        weights: Matrix | None = None,
    ) -> Classification:
        model = loaded.model
        text = passage.text
        labels = list(model.labels)
        thresholds = model.thresholds_.tolist()
        predicted = [c for c, label in enumerate(labels) if row[c] >= thresholds[c]]
        escalation = self.policy.decide(
            probability=row[-1],
            threshold=float(model.escalation_threshold_),
            context=context,
            departments=[labels[c] for c in predicted],
            signals=self.policy.signals(text, passage.amounts),
        )
        # One attribution of the text serves every label's evidence.
        columns = predicted + ([len(labels)] if escalation.escalate else [])
        contributions = (
            model.term_contributions_many(text, columns, features, passage.chunks, weights)
            if columns
            else []
        )
        departments = []
        for column, scores in zip(predicted, contributions, strict=False):
            evidence = find_evidence(passage, scores)
            departments.append(
                LabelResult(labels[column], self.catalogue.name(labels[column]), row[column],
                            thresholds[column], evidence.terms, evidence.quotes)
            )  # fmt: skip
        departments.sort(key=lambda d: -d.probability)
        escalation_terms: tuple[str, ...] = ()
        if escalation.escalate:
            escalation_terms = find_evidence(passage, contributions[-1], max_quotes=0).terms
        reasons = [
            f"{label} probability {row[c]:.2f} is within {self.review_margin:.2f} of its "
            f"threshold {thresholds[c]:.2f}"
            for c, label in enumerate(labels)
            if abs(row[c] - thresholds[c]) < self.review_margin
        ]
        if not departments:
            reasons.append("no department clears its threshold")
        # lower-casing keeps white space as it is, so the text's words are the passage's
        words = len(passage.words)
        if words < self.review_min_words:
            reasons.append(f"too short to judge ({words} word{'s' if words != 1 else ''})")
        language = detect_language(text, lowered_chunks=passage.words)
        if language.code not in (None, "en"):
            reasons.append(f"written in {language.name}; the model was trained on English only")
        return Classification(
            model_version=loaded.version,
            departments=tuple(departments),
            probabilities={
                **{label: round(row[c], 4) for c, label in enumerate(labels)},
                ESCALATE: round(row[-1], 4),
            },
            escalation=escalation,
            escalation_evidence=escalation_terms,
            needs_review=bool(reasons),
            review_reasons=tuple(reasons),
            language=language.code,
        )

    def triage(self, text: str, context: CaseContext) -> TriageResult:
        """Classify one complaint and draft its handoffs and customer update."""
        result = self._drafted(text, context, *self._classify_one(text, context))
        if self.store is not None:
            (result,) = self._stored([result], [self._new_triage(result, text, context)])
        self._finished([result])
        return result

    async def triage_async(self, text: str, context: CaseContext) -> TriageResult:
        """`triage` for an event loop. The model and the drafts run inline: a millisecond or
        two of CPU costs less than the hops to a thread and back, and under load requests
        then take the CPU in turn instead of contending for it. The write is handed to the
        writer and awaited; the loop never waits for the database."""
        result = self._drafted(text, context, *self._classify_one(text, context))
        if self.writer is not None:
            try:
                await self.writer.save([self._new_triage(result, text, context)])
            except DatabaseBusy as exc:
                (result,) = self._not_stored([result], exc)
        elif self.store is not None:
            (result,) = self._stored([result], [self._new_triage(result, text, context)])
        self._finished([result])
        return result

    def _finished(self, results: list[TriageResult]) -> None:
        for result in results:
            for listener in self.listeners:
                listener(result)

    def triage_many(
        self, texts: Sequence[str], contexts: Sequence[CaseContext]
    ) -> list[TriageResult]:
        """`triage` for many complaints: classified together, drafted one by one, and
        stored in one transaction (all or none)."""
        classified = self._classify_many(texts, contexts)
        results = [
            self._drafted(text, context, classification, passage)
            for text, context, (classification, passage) in zip(
                texts, contexts, classified, strict=True
            )
        ]
        if self.store is not None and results:
            results = self._stored(
                results,
                [
                    self._new_triage(result, text, context)
                    for result, text, context in zip(results, texts, contexts, strict=True)
                ],
            )
        self._finished(results)
        return results

    def _drafted(
        self, text: str, context: CaseContext, classification: Classification, passage: Passage
    ) -> TriageResult:
        """The handoff notes and customer update for a classified complaint."""
        triage_id = str(uuid.uuid4())
        case_ref = context.case_ref or f"CT-{triage_id[:8].upper()}"
        quotes = sorted(
            {q for d in classification.departments for q in d.quotes}, key=lambda q: q.start
        )
        heard = classification.departments[0].quotes[0].text if quotes else None
        if heard and len(heard) > 200:
            heard = heard[:199].rstrip() + "…"
        amount = context.amount
        facts = CaseFacts(
            case_ref=case_ref,
            text=text,
            summary=summary(passage, quotes),
            departments=tuple(
                DepartmentFinding(d.id, d.probability, d.terms, tuple(q.text for q in d.quotes))
                for d in classification.departments
            ),
            escalate=classification.escalation.escalate,
            escalation_reasons=classification.escalation.reasons,
            needs_review=classification.needs_review,
            customer_name=context.customer_name,
            channel=context.channel,
            tier=context.tier,
            previous_contacts=context.previous_contacts,
            amount=f"{amount.value:,.2f} {amount.currency}" if amount else None,
            heard=heard,
            amounts_found=passage.amounts,
        )
        now = self.clock()
        handoffs, reply_by, customer_message = self.drafter.drafts(facts, now)
        return TriageResult(
            triage_id=triage_id,
            case_ref=case_ref,
            created=now,
            classification=classification,
            summary=facts.summary,
            handoffs=tuple(handoffs),
            customer_message=customer_message,
            reply_by=reply_by,
            handoff_ids=tuple(str(uuid.uuid4()) for _ in handoffs),
        )

    def names(self) -> dict[str, str]:
        return {d: self.catalogue.name(d) for d in self.catalogue.ids}

    def _stored(self, results: list[TriageResult], triages: list[NewTriage]) -> list[TriageResult]:
        """Store `triages` in one transaction. A locked database must not stop complaints
        being triaged: the caller then gets the results all the same, marked not stored."""
        assert self.store is not None
        try:
            self.store.save_triages(triages)
        except DatabaseBusy as exc:
            return self._not_stored(results, exc)
        return results

    @staticmethod
    def _not_stored(results: list[TriageResult], exc: DatabaseBusy) -> list[TriageResult]:
        ids = ", ".join(r.triage_id for r in results)
        log.warning("triage %s not stored: database busy: %s", ids, exc.orig)
        return [dataclasses.replace(r, stored=False) for r in results]

    def _new_triage(self, result: TriageResult, text: str, context: CaseContext) -> NewTriage:
        details = context.model_dump(mode="json")
        document = triage_document(result, self.names())
        handoffs = [
            NewHandoff(i, h.department, h.subject, h.body, h.due)
            for i, h in zip(result.handoff_ids, result.handoffs, strict=True)
        ]
        if self.masking is not None:  # the caller's response keeps what it sent
            masked = self.masking.triage(text, details, document, handoffs)
            text, details, document, handoffs = (
                masked.text, masked.context, masked.document, masked.handoffs
            )  # fmt: skip
        return NewTriage(
            triage_id=result.triage_id,
            case_ref=result.case_ref,
            created=result.created,
            model_version=result.classification.model_version,
            text=text,
            context=details,
            result=document,
            escalate=result.classification.escalation.escalate,
            needs_review=result.classification.needs_review,
            handoffs=tuple(handoffs),
        )

    def storable(self, correction: Correction) -> Correction:
        """An agent's correction as it may be stored (masked unless mask_stored_text is off)."""
        return correction if self.masking is None else self.masking.correction(correction)

    def storable_text(self, value: str | None) -> str | None:
        """Free text about a triage (an edited handoff, a note) as it may be stored."""
        return value if self.masking is None else self.masking.text(value)


def build_service(
    settings: Settings,
    holder: ModelHolder,
    catalogue: Catalogue,
    store: Store | None = None,
    writer: TriageWriter | None = None,
) -> TriageService:
    """Assemble the service from settings; the only place the parts are wired together.
    `writer` (storing into `store`) serves `triage_async`."""
    zone = ZoneInfo(settings.timezone)
    drafter = Drafter(
        settings.templates_dir,
        catalogue,
        WorkingHours(settings.workday_start_hour, settings.workday_end_hour),
        front_line_reply_hours=settings.customer_reply_hours,
    )
    return TriageService(
        holder=holder,
        catalogue=catalogue,
        policy=EscalationPolicy.of(settings),
        drafter=drafter,
        review_margin=settings.review_margin,
        review_min_words=settings.review_min_words,
        clock=lambda: datetime.now(zone),
        store=store,
        writer=writer,
        # Only a service that stores needs it: `predict` and `evaluate` skip reading templates.
        masking=(
            StoredMasking(Redactor(own_values(catalogue, settings.templates_dir)))
            if settings.mask_stored_text and store is not None
            else None
        ),
    )
