"""The retriever learns the company's language: a query adapter trained on what the product itself saw.

Training signals come from the query log at training time (so `forget` and retention, which delete rows, remove
their signals too):
- a staff answer that cites an article (`resolve` with `cite`): the asker's question → that article;
- 解決した on an answer: question → the answer's first source; 解決しない: that source is a negative (it becomes a
  training question when the staff later resolve it with a citation);
- FAQ entries (their question and every wording): wording → the entry.
Negatives are the other first-stage candidates. `adapt()` fits a new matrix starting from the adapter served now,
checks it on held-out question groups (the questions a resolution answered together, an FAQ entry's wordings) and
swaps it in only if held-out rank-1 does not drop. Every candidate is stored as a version (the database every
replica shares); `rollback()` serves the previous one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from app.answer import DEFAULT_PARAMS, retrieve, served_adapter
from app.errors import BadRequestError
from app.retrieval.adapter import QueryAdapter
from app.retrieval.adapter_fit import Pair, fit_adapter
from app.retrieval.index import Chunk, Snapshot
from app.retrieval.ranking import RankParams
from app.services import Services
from app.store.adapters import AdapterVersion
from app.store.querylog import QueryFilter

logger = logging.getLogger(__name__)

HELDOUT_SHARE = 5  # one question group in five is held out (by a hash of the group: the same split every time)
MIN_TRAIN = 8  # fewer training questions than this: nothing to learn from yet
MIN_HELDOUT = 3  # fewer held-out questions: the swap check would mean nothing
PENALTIES = (1.0, 0.3, 0.1)  # candidate pulls towards the adapter in use, most cautious first
TRAIN_DEPTH = 50  # first-stage candidates per training question (the negatives)
_adapt_lock = threading.Lock()  # one training at a time per process


@dataclass(frozen=True)
class Target:
    """An article (or FAQ entry) a question is about: a document (doc_id or its source name) and optionally a
    section heading. A chunk matches when it is of that document and, if a section is named, of that section."""

    doc_id: str = ""
    source: str = ""
    section: str = ""

    def matches(self, chunk: Chunk) -> bool:
        if self.doc_id and chunk.doc_id != self.doc_id:
            return False
        if not self.doc_id and chunk.source != self.source:
            return False
        return not self.section or chunk.section == self.section or chunk.section.endswith(self.section)

    def same_article(self, other: Target) -> bool:
        same_doc = (self.doc_id and self.doc_id == other.doc_id) or (self.source and self.source == other.source)
        a, b = self.section, other.section
        return bool(same_doc) and (not a or not b or a.endswith(b) or b.endswith(a))

    @classmethod
    def of(cls, data: dict) -> Target:
        return cls(
            doc_id=str(data.get("doc_id") or ""),
            source=str(data.get("source") or ""),
            section=str(data.get("section") or ""),
        )


@dataclass
class Signal:
    """One training question: what it is about (`right`), what it is not (`wrong`) and its question group."""

    question: str
    group: str
    kind: str  # resolution | feedback | faq
    right: list[Target] = field(default_factory=list)
    wrong: list[Target] = field(default_factory=list)


def collect_signals(services: Services) -> list[Signal]:
    """Every training question the log holds now (deduplicated by question text and target)."""
    log = services.require_log()
    by_query: dict[str, Signal] = {}
    for record in log.iter_records(QueryFilter(resolved=True)):
        cite = record.meta.get("resolution_cite")
        if isinstance(cite, dict) and (cite.get("source") or cite.get("doc_id")):
            group = str(record.meta.get("resolution_group") or record.id)
            by_query[record.id] = Signal(record.question, f"q:{group}", "resolution", right=[Target.of(cite)])
    for feedback in ("helpful", "not_helpful"):
        for record in log.iter_records(QueryFilter(feedback=feedback)):
            if not record.sources:
                continue
            first = Target.of(record.sources[0])
            signal = by_query.setdefault(record.id, Signal(record.question, f"q:{record.id}", "feedback"))
            if feedback == "helpful" and not signal.right:
                signal.right.append(first)
            elif feedback == "not_helpful" and not any(first.same_article(t) for t in signal.right):
                signal.wrong.append(first)
    signals = [s for s in by_query.values() if s.right]
    for entry in log.faq.list():
        target = Target(doc_id=entry.doc_id)
        wordings = [entry.question, *[str(w) for w in getattr(entry, "wordings", []) or []]]
        for text in dict.fromkeys(w.strip() for w in wordings if w and w.strip()):
            signals.append(Signal(text, f"faq:{entry.id}", "faq", right=[target]))
    seen: set[tuple] = set()
    out = []
    for s in signals:
        key = (s.question, tuple(s.right))
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def is_heldout(group: str) -> bool:
    return int(hashlib.sha1(group.encode("utf-8")).hexdigest(), 16) % HELDOUT_SHARE == 0


@dataclass
class Example:
    signal: Signal
    pair: Pair | None  # None: no chunk of the target is in the index any more


def _rows(snapshot: Snapshot, targets: list[Target]) -> list[int]:
    return [i for i, c in enumerate(snapshot.chunks) if any(t.matches(c) for t in targets)]


def build_example(services: Services, signal: Signal, *, params: RankParams) -> Example:
    """The question's raw vector and its first-stage candidates (body and heading vectors), each marked right or
    not; the target's own chunks join the candidates when the first stage missed them."""
    r = retrieve(
        signal.question,
        services=services,
        k=TRAIN_DEPTH,
        params=dataclasses.replace(params, depth=max(params.depth, TRAIN_DEPTH)),
        second_stage=False,
        adapter=None,
    )
    snap = r.snapshot
    if r.query.vector is None:
        return Example(signal, None)
    right_rows = set(_rows(snap, signal.right))
    if not right_rows:
        return Example(signal, None)
    body, head, labels = [], [], []
    covered: set[int] = set()
    for p in r.passages:
        rows = [h.row for h in p.hits]
        covered.update(rows)
        body.append(max(p.hits, key=lambda h: h.scores.get("dense", 0.0)).row)
        head.append(p.top.row)
        labels.append(any(row in right_rows for row in rows))
    for row in sorted(right_rows - covered)[:4]:
        body.append(row)
        head.append(row)
        labels.append(True)
    # An answer the asker marked 解決しない stays a negative even when this first stage would not find it.
    for row in sorted(set(_rows(snap, signal.wrong)) - covered - right_rows)[:4]:
        body.append(row)
        head.append(row)
        labels.append(False)
    lab = np.asarray(labels, dtype=bool)
    pair = Pair(
        query=np.asarray(r.query.vector, dtype=np.float32),
        candidates=np.vstack([snap.vectors[body], snap.head_vectors[head]]).astype(np.float32),
        right=np.concatenate([lab, lab]),
    )
    return Example(signal, pair)


def hit_at_1(services: Services, signals: list[Signal], adapter: QueryAdapter | None, *, params: RankParams) -> float:
    """Share of `signals` whose first answer passage (the full ranking) is one of their targets."""
    if not signals:
        return 0.0
    hits = 0
    for s in signals:
        r = retrieve(s.question, services=services, k=1, params=params, adapter=adapter)
        if r.passages and any(t.matches(h.chunk) for h in r.passages[0].hits for t in s.right):
            hits += 1
    return hits / len(signals)


@dataclass
class AdaptReport:
    pairs: int  # training questions usable now (their target is in the index)
    heldout: int
    heldout_hit1_before: float | None
    heldout_hit1_after: float | None
    swapped: bool
    version: int | None  # the version stored by this run (None: nothing to train on)
    active_version: int | None
    reason: str  # swapped | heldout_dropped | too_few_pairs
    by_kind: dict[str, int] = field(default_factory=dict)
    penalty: float | None = None  # the chosen strength of the pull towards the adapter in use
    checks: dict = field(default_factory=dict)  # per held-out set: questions, hits before, hits per penalty tried

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def topic_of(signal: Signal) -> str:
    """The article(s) a training question is about: all wordings of one topic share it."""
    return "|".join(sorted(f"{t.doc_id or t.source}#{t.section}" for t in signal.right))


def split_of(signal: Signal) -> str:
    """`new_topic` (one topic in five, all its wordings), `new_wording` (one question group in five of the other
    topics) or `train`; by hashes, so the same log splits the same way every time."""
    if is_heldout("topic:" + topic_of(signal)):
        return "new_topic"
    return "new_wording" if is_heldout(signal.group) else "train"


def safe(before: dict[str, int], after: dict[str, int], new_topics: int) -> bool:
    """The swap rule: held-out rank-1 does not drop — on all held-out questions together and on new wordings —
    and on topics it never saw it loses at most one question or 2 % of them (noise, not a trend)."""
    slack = max(1, int(0.02 * new_topics))
    return (
        sum(after.values()) >= sum(before.values())
        and after["new_wording"] >= before["new_wording"]
        and after["new_topic"] >= before["new_topic"] - slack
    )


def _hits(services: Services, signals: list[Signal], adapter: QueryAdapter | None, *, params: RankParams) -> int:
    return round(hit_at_1(services, signals, adapter, params=params) * len(signals))


def adapt(services: Services, *, by: str | None = None, params: RankParams = DEFAULT_PARAMS) -> AdaptReport:
    """Train, check on held-out questions, store, and swap in when held-out rank-1 does not drop.

    Two held-out sets guard two promises: new wordings of topics the staff answered (one question group in five)
    must not get worse, nor may whole topics it never saw (one topic in five) — an adapter that pulls every
    question towards the taught articles fails the second (`safe`). Candidates are fitted at each of PENALTIES
    (from the most cautious); the one with the most held-out hits among the safe ones is kept, ties going to the
    more cautious, then refitted on every pair."""
    log = services.require_log()
    with _adapt_lock:
        examples = [build_example(services, s, params=params) for s in collect_signals(services)]
        usable = [e for e in examples if e.pair is not None]
        by_kind: dict[str, int] = {}
        for e in usable:
            by_kind[e.signal.kind] = by_kind.get(e.signal.kind, 0) + 1
        parts: dict[str, list[Example]] = {"train": [], "new_wording": [], "new_topic": []}
        for e in usable:
            parts[split_of(e.signal)].append(e)
        train = parts["train"]
        checks = {k: [e.signal for e in parts[k]] for k in ("new_wording", "new_topic")}
        held = len(checks["new_wording"]) + len(checks["new_topic"])
        current = served_adapter(services, params)
        active = log.adapters.active()
        report = AdaptReport(
            pairs=len(usable),
            heldout=held,
            heldout_hit1_before=None,
            heldout_hit1_after=None,
            swapped=False,
            version=None,
            active_version=active.version if active else None,
            reason="too_few_pairs",
            by_kind=by_kind,
        )
        if len(train) < MIN_TRAIN or held < MIN_HELDOUT:
            return report
        name = services.embedder.name
        dim = usable[0].pair.query.shape[0]  # type: ignore[union-attr]
        base = current.matrix if current is not None and current.fits(name, dim) else None
        train_pairs = [e.pair for e in train if e.pair is not None]
        before = {k: _hits(services, v, current, params=params) for k, v in checks.items()}
        best: tuple[int, float, QueryAdapter, dict[str, int]] | None = None
        tried: dict[str, dict[str, int]] = {}
        for penalty in PENALTIES:
            candidate = fit_adapter(train_pairs, embedder=name, base=base, penalty=penalty)
            after = {k: _hits(services, v, candidate, params=params) for k, v in checks.items()}
            tried[str(penalty)] = after
            if safe(before, after, len(checks["new_topic"])):
                total = sum(after.values())
                if best is None or total > best[0]:
                    best = (total, penalty, candidate, after)
        report.heldout_hit1_before = sum(before.values()) / held
        report.checks = {
            k: {"questions": len(v), "before": before[k], "after_by_penalty": {p: a[k] for p, a in tried.items()}}
            for k, v in checks.items()
        }
        if best is None:
            # Nothing safe: keep the most cautious candidate aside (inactive), for the record.
            candidate = fit_adapter(train_pairs, embedder=name, base=base, penalty=PENALTIES[0])
            after_hits = tried[str(PENALTIES[0])]
            swapped, final, penalty = False, candidate, PENALTIES[0]
        else:
            _, penalty, _, after_hits = best
            swapped = True
            final = fit_adapter(
                [e.pair for e in usable if e.pair is not None], embedder=name, base=base, penalty=penalty
            )
        report.heldout_hit1_after = sum(after_hits.values()) / held
        report.penalty = penalty
        stored = log.adapters.add(
            final,
            pairs=len(usable),
            heldout=held,
            before=report.heldout_hit1_before,
            after=report.heldout_hit1_after,
            activate=swapped,
            created_by=by,
            note=None if swapped else "held-out rank-1 dropped",
        )
        services.adapter.refresh_now()
        logger.info(
            "adapt: %d pairs, held-out hits %s -> %s (penalty %s), version %d %s",
            len(usable),
            before,
            after_hits,
            penalty,
            stored.version,
            "swapped in" if swapped else "kept aside",
        )
        now_active = log.adapters.active()
        report.swapped = swapped
        report.version = stored.version
        report.active_version = now_active.version if now_active else None
        report.reason = "swapped" if swapped else "heldout_dropped"
        return report


def training_now() -> bool:
    """True while this process trains an adapter."""
    return _adapt_lock.locked()


def rollback(services: Services) -> AdapterVersion | None:
    """Serve the previous swapped-in version (None: back to the shipped adapter); 422 `no_adapter` when none is active."""
    log = services.require_log()
    if log.adapters.active() is None:
        raise BadRequestError(
            "No trained query adapter is active; nothing to roll back.",
            "学習済みのクエリアダプタは使われていません。元に戻すものはありません。",
            code="no_adapter",
        )
    out = log.adapters.rollback()
    services.adapter.refresh_now()
    return out


def status(services: Services) -> dict:
    """What the console and `GET /api/admin/adapter` show: the served version and the recent ones."""
    log = services.require_log()
    versions = log.adapters.list(limit=10)
    active = next((v for v in versions if v.active), None) or log.adapters.active()
    return {
        "active": active.to_dict() if active else None,
        "shipped": bool(DEFAULT_PARAMS.adapter),
        "versions": [v.to_dict() for v in versions],
    }


def new_pairs_since_last(services: Services) -> int:
    """Training questions in the log now minus those the latest stored version was fitted on."""
    log = services.require_log()
    latest = log.adapters.list(limit=1)
    return len(collect_signals(services)) - (latest[0].pairs if latest else 0)


def maybe_adapt(services: Services, *, slot: str) -> AdaptReport | None:
    """The background retraining (`MADOGUCHI_ADAPT_MIN_NEW_PAIRS` > 0): train when that many new training questions
    arrived since the latest version. `slot` names the check interval; the first replica to claim it trains, the
    others skip (the claim lives in the shared database)."""
    minimum = services.settings.adapt_min_new_pairs
    if minimum <= 0 or training_now():
        return None
    if new_pairs_since_last(services) < minimum:
        return None
    if not services.require_log().claim_event(f"adapt:{slot}"):
        return None
    return adapt(services, by="auto")
