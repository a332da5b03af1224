"""The newest Alembic revision (the migrations form one chain; tests/test_querylog.py checks that)."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from app.store.querylog import MIGRATIONS


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, heads
    return heads[0]
