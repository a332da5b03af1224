"""「未解決の質問」: escalated or unhelpful questions nobody has answered yet, grouped when they ask the same thing.

One staff answer goes to every asker of a group, so a group must mean one thing. The embedder encodes every
question; two questions may share a group only when they are similar (cosine ≥ `SIMILARITY`; USE-m3 puts
paraphrases such as 「駐車場の利用申請はどこで」/「駐車場を使いたいのですが申請方法は？」 at ≈0.85) *and* agree on
their key content words, numbers and dates (app/ops/same_question.py: 「給料日」 and 「有給の日数」 are close in
meaning space but not the same question). Average-linkage clustering on similarity, then each cluster is split
so that every pair in a group agrees.
Measured by `madoguchi eval groups` (pairwise precision/recall on eval/training/grouping.jsonl). Biggest groups
first; a group's key is its oldest question's id, so links stay valid while new questions arrive. The suggested
category comes from the questions' own words (app/ops/category_words.py).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from app.ops.category_words import suggest_category
from app.ops.same_question import Agreement
from app.ports import EmbedderPort
from app.services import Services
from app.store.querylog import QueryFilter, QueryLog, QueryRecord
from app.store.querylog_unresolved import unresolved_per_asker

SIMILARITY = 0.45  # with key-word agreement on top (eval/training/grouping.jsonl: 0.6 split more paraphrases)
MAX_QUESTIONS = 1000
PER_ASKER = 20  # newest unresolved questions shown per asker: a flood is a count on its group, not the whole page


@dataclass
class Group:
    key: str
    records: list[QueryRecord]  # newest first
    not_shown: int = 0  # repeats of this group's askers left off the list (beyond PER_ASKER each)

    @property
    def size(self) -> int:
        return len(self.records)

    @property
    def representative(self) -> QueryRecord:
        """The question nearest the group's centre (`cluster()` puts it first)."""
        return self.records[0]

    @property
    def cite_options(self) -> list[dict]:
        """The distinct articles the bot found for the group's questions: what the staff may cite."""
        seen: dict[tuple, dict] = {}
        for r in self.records:
            for s in r.sources:
                key = (s.get("source"), s.get("section"))
                if s.get("source") and key not in seen:
                    seen[key] = s
        return list(seen.values())

    @property
    def latest(self) -> datetime:
        return max(r.created_at for r in self.records)

    @property
    def category(self) -> str | None:
        """The suggested category: from the questions' own words (category words), not from whatever manual the
        bot's failed attempt cited; None when the words say nothing."""
        return suggest_category([r.question for r in self.records])

    @property
    def reasons(self) -> list[str]:
        out = Counter(r.escalation_reason or ("not_helpful" if r.helpful is False else "") for r in self.records)
        return [k for k, _ in out.most_common() if k]


def unresolved_questions(services: Services, *, limit: int = MAX_QUESTIONS) -> tuple[list[QueryRecord], dict[str, int]]:
    """Escalated or unhelpful questions not resolved yet, newest first, at most PER_ASKER per asker; and how many
    each asker has in all."""
    log = services.require_log()
    if not isinstance(log, QueryLog):  # another implementation of the port: the plain list
        return log.search(QueryFilter(unresolved=True), limit=limit), {}
    return unresolved_per_asker(log, limit=limit, per_asker=PER_ASKER)


def agreement_for(services: Services) -> Agreement:
    """Key-word agreement with the corpus idf and the company glossary of the current snapshot."""
    snapshot = services.index.snapshot
    return Agreement(
        tokenizer=services.tokenizer,
        glossary=services.index.glossary,
        idf=snapshot.bm25.idf_of if snapshot is not None and len(snapshot) else None,
    )


def unresolved_groups(services: Services) -> list[Group]:
    """The 「未解決の質問」 page: the unresolved questions grouped by what they ask, biggest group first; an asker's
    repeats beyond PER_ASKER are counted on their group (`not_shown`), not listed."""
    records, asked = unresolved_questions(services)
    groups = cluster(records, embedder=services.embedder, agree=agreement_for(services).agree)
    shown = Counter(r.user_id for r in records if r.user_id)
    counted: set[str] = set()
    for g in groups:  # an asker's repeats are counted once, on the first (biggest) group holding their questions
        for user in dict.fromkeys(r.user_id for r in g.records if r.user_id):
            if user not in counted:
                counted.add(user)
                g.not_shown += max(0, asked.get(user, 0) - shown[user])
    return groups


_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def _vectors(embedder: EmbedderPort, texts: list[str]) -> np.ndarray:
    """Question vectors, remembered across page loads (the list is re-clustered on every visit)."""
    name = getattr(embedder, "name", "")
    found: dict[str, np.ndarray] = {}
    with _cache_lock:
        for t in texts:
            if (name, t) in _cache:
                found[t] = _cache[(name, t)]
                _cache.move_to_end((name, t))
    missing = [t for t in dict.fromkeys(texts) if t not in found]
    if missing:
        fresh = np.asarray(embedder.encode(missing), dtype=np.float64)
        found.update(zip(missing, fresh))
        with _cache_lock:
            for t, v in zip(missing, fresh):
                _cache[(name, t)] = v
            while len(_cache) > 4 * MAX_QUESTIONS:
                _cache.popitem(last=False)
    return np.stack([found[t] for t in texts])


def split_by_agreement(idx: list[int], texts: list[str], vectors: np.ndarray, agree) -> list[list[int]]:
    """Split one similarity cluster into parts whose members all agree pairwise: the most central question first,
    each next one joins the first part it agrees with entirely, else starts its own."""
    centre = vectors[idx].mean(axis=0)
    parts: list[list[int]] = []
    for i in sorted(idx, key=lambda i: -float(vectors[i] @ centre)):
        home = next(
            (p for p in parts if all(texts[i] == texts[j] or agree(texts[i], texts[j]) for j in p)),
            None,
        )
        if home is None:
            parts.append([i])
        else:
            home.append(i)
    return parts


def cluster(
    records: list[QueryRecord],
    *,
    embedder: EmbedderPort,
    similarity: float = SIMILARITY,
    agree: Callable[[str, str], bool] | None = None,
    method: str = "average",
) -> list[Group]:
    """Agglomerative clustering on cosine distance (`method` linkage), then, when `agree` is given, every cluster is
    split so that all pairs in a group agree on their key words (one answer fits every asker)."""
    if not records:
        return []
    if len(records) == 1:
        return [Group(key=records[0].id, records=list(records))]
    texts = [r.question for r in records]
    vectors = _vectors(embedder, texts)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    dist = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform((dist + dist.T) / 2.0, checks=False), method=method)
    labels = fcluster(tree, t=1.0 - similarity, criterion="distance")
    members: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        members.setdefault(int(label), []).append(i)
    clusters = list(members.values())
    if agree is not None:
        clusters = [part for idx in clusters for part in split_by_agreement(idx, texts, unit, agree)]
    groups = []
    for idx in clusters:
        recs = sorted((records[i] for i in idx), key=lambda r: r.created_at, reverse=True)
        oldest = min(recs, key=lambda r: (r.created_at, r.id))
        centre = vectors[idx].mean(axis=0)
        best = max(idx, key=lambda i: float(vectors[i] @ centre))
        # Representative first, the rest newest first.
        recs = [records[best]] + [r for r in recs if r.id != records[best].id]
        groups.append(Group(key=oldest.id, records=recs))
    groups.sort(key=lambda g: (-g.size, -g.latest.timestamp()))
    return groups


def find_group(groups: list[Group], key: str) -> Group | None:
    for g in groups:
        if g.key == key or any(r.id == key for r in g.records):
            return g
    return None
