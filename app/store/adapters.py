"""Query adapter versions in the query-log database (`madoguchi adapt`). The database is what every replica
shares, so a new version — or a rollback — reaches all of them: each checks the active version now and then
(`ActiveAdapter` in app.retrieval.adapter). Rejected candidates are kept too (inactive), so the console can show
why nothing changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.clock import as_utc, utcnow
from app.retrieval.adapter import QueryAdapter
from app.store.querylog_faq import Transactions
from app.store.querylog_schema import adapter_versions

_META = [c for c in adapter_versions.c if c.name != "matrix"]


@dataclass
class AdapterVersion:
    version: int
    created_at: datetime
    embedder: str
    pairs: int
    heldout: int
    heldout_hit1_before: float | None
    heldout_hit1_after: float | None
    swapped: bool
    active: bool
    rolled_back_at: datetime | None = None
    created_by: str | None = None
    note: str | None = None

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "embedder": self.embedder,
            "pairs": self.pairs,
            "heldout": self.heldout,
            "heldout_hit1_before": self.heldout_hit1_before,
            "heldout_hit1_after": self.heldout_hit1_after,
            "swapped": self.swapped,
            "active": self.active,
            "rolled_back_at": self.rolled_back_at.isoformat() if self.rolled_back_at else None,
            "created_by": self.created_by,
            "note": self.note,
        }


def _version(row) -> AdapterVersion:
    m = row._mapping
    return AdapterVersion(
        version=int(m["version"]),
        created_at=as_utc(m["created_at"]),
        embedder=m["embedder"],
        pairs=int(m["pairs"]),
        heldout=int(m["heldout"]),
        heldout_hit1_before=m["heldout_hit1_before"],
        heldout_hit1_after=m["heldout_hit1_after"],
        swapped=bool(m["swapped"]),
        active=bool(m["active"]),
        rolled_back_at=as_utc(m["rolled_back_at"]),
        created_by=m["created_by"],
        note=m["note"],
    )


class AdapterVersions:
    def __init__(self, log: Transactions) -> None:
        self.log = log

    def add(
        self,
        adapter: QueryAdapter,
        *,
        pairs: int,
        heldout: int,
        before: float | None,
        after: float | None,
        activate: bool,
        created_by: str | None = None,
        note: str | None = None,
    ) -> AdapterVersion:
        """Store a trained adapter; with `activate` it becomes the one served (the previous stays for rollback)."""
        with self.log.write() as conn:
            if activate:
                conn.execute(adapter_versions.update().where(adapter_versions.c.active).values(active=False))
            result = conn.execute(
                adapter_versions.insert().values(
                    created_at=utcnow(),
                    embedder=adapter.embedder,
                    matrix=adapter.to_bytes(),
                    pairs=pairs,
                    heldout=heldout,
                    heldout_hit1_before=before,
                    heldout_hit1_after=after,
                    swapped=activate,
                    active=activate,
                    created_by=created_by,
                    note=note,
                )
            )
            assert result.inserted_primary_key is not None
            row = conn.execute(
                sa.select(*_META).where(adapter_versions.c.version == result.inserted_primary_key[0])
            ).one()
        return _version(row)

    def list(self, *, limit: int = 20) -> list[AdapterVersion]:
        with self.log.read() as conn:
            rows = conn.execute(sa.select(*_META).order_by(adapter_versions.c.version.desc()).limit(limit))
            return [_version(r) for r in rows]

    def active(self) -> AdapterVersion | None:
        with self.log.read() as conn:
            row = conn.execute(sa.select(*_META).where(adapter_versions.c.active)).first()
        return _version(row) if row is not None else None

    def active_version(self) -> int | None:
        """The served version number (one indexed-free scan of a tiny table: cheap enough to poll)."""
        with self.log.read() as conn:
            return conn.execute(sa.select(adapter_versions.c.version).where(adapter_versions.c.active)).scalar()

    def load(self, version: int) -> QueryAdapter | None:
        with self.log.read() as conn:
            data = conn.execute(
                sa.select(adapter_versions.c.matrix).where(adapter_versions.c.version == int(version))
            ).scalar()
        return QueryAdapter.from_bytes(data) if data is not None else None

    def rollback(self) -> AdapterVersion | None:
        """Serve the active version's predecessor among the versions that were once swapped in (an adapter whose
        held-out check failed never was); none left: serve no deployment adapter (the shipped one applies).
        Returns the version now active (None: no deployment adapter)."""
        with self.log.write() as conn:
            current = conn.execute(sa.select(adapter_versions.c.version).where(adapter_versions.c.active)).scalar()
            if current is None:
                return None
            conn.execute(
                adapter_versions.update()
                .where(adapter_versions.c.version == current)
                .values(active=False, rolled_back_at=utcnow())
            )
            previous = conn.execute(
                sa.select(adapter_versions.c.version)
                .where(adapter_versions.c.version < current)
                .where(adapter_versions.c.swapped)
                .where(adapter_versions.c.rolled_back_at.is_(None))
                .order_by(adapter_versions.c.version.desc())
            ).first()
            if previous is None:
                return None
            conn.execute(adapter_versions.update().where(adapter_versions.c.version == previous[0]).values(active=True))
            row = conn.execute(sa.select(*_META).where(adapter_versions.c.version == previous[0])).one()
        return _version(row)
