"""「未解決の質問」: escalated or unhelpful questions nobody has answered yet, grouped by meaning.

The embedder encodes every question; average-linkage agglomerative clustering on cosine distance merges
questions whose mean similarity is at least `SIMILARITY` (USE-m3 puts paraphrases such as 「駐車場の利用申請は
どこで」/「駐車場を使いたいのですが申請方法は？」 at ≈0.85 and unrelated office questions below ≈0.4). Biggest groups
first; a group's key is its oldest question's id, so links stay valid while new questions arrive.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from app.ports import EmbedderPort
from app.services import Services
from app.store.querylog import QueryFilter, QueryLog, QueryRecord
from app.store.querylog_unresolved import unresolved_per_asker

SIMILARITY = 0.6
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
        cats = Counter(r.category for r in self.records if r.category)
        return cats.most_common(1)[0][0] if cats else None

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


def unresolved_groups(services: Services) -> list[Group]:
    """The 「未解決の質問」 page: the unresolved questions grouped by meaning, biggest group first; an asker's
    repeats beyond PER_ASKER are counted on their group (`not_shown`), not listed."""
    records, asked = unresolved_questions(services)
    groups = cluster(records, embedder=services.embedder)
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


def cluster(records: list[QueryRecord], *, embedder: EmbedderPort, similarity: float = SIMILARITY) -> list[Group]:
    if not records:
        return []
    if len(records) == 1:
        return [Group(key=records[0].id, records=list(records))]
    vectors = _vectors(embedder, [r.question for r in records])
    tree = linkage(vectors, method="average", metric="cosine")
    labels = fcluster(tree, t=1.0 - similarity, criterion="distance")
    members: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        members.setdefault(int(label), []).append(i)
    groups = []
    for idx in members.values():
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
