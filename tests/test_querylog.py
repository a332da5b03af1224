"""The query log itself: every field round-trips, updates merge, migrations, restart survival, concurrent writers.

Every test builds its log from `make_settings()`, so the same tests run on PostgreSQL when the settings say so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.result import AnswerResult, Source
from app.errors import BadRequestError, NotFoundError
from app.store.querylog import QueryFilter, QueryLog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_result(
    question="有給休暇は何日ありますか",
    *,
    outcome="answered",
    category="attendance",
    channel="api",
    user_id="U1",
    reason=None,
    confidence=0.8,
    sources=None,
) -> AnswerResult:
    return AnswerResult(
        query_id=uuid.uuid4().hex,
        question=question,
        answer=f"回答: {question}",
        outcome=outcome,
        confidence=confidence,
        category=category,
        sources=sources
        if sources is not None
        else [Source("就業規則.md", "就業規則", "第34条 年次有給休暇", 3, "10日を付与する", 0.91)],
        language="ja",
        escalation_reason=reason if outcome == "escalated" else None,
        latency_ms=12.5,
        corpus_version=7,
        origin=channel,
        user_id=user_id,
    )


@pytest.fixture
def log(make_settings):
    ql = QueryLog.from_settings(make_settings())
    yield ql
    ql.close()


def test_record_round_trips_every_field(log):
    r = make_result(
        sources=[
            Source(
                "就業規則.md",
                "就業規則",
                "第34条",
                3,
                "年次有給休暇",
                0.912,
                url="https://x/1",
                kind="doc",
                doc_id="d1",
            )
        ]
    )
    log.record(r, meta={"slack_channel": "C1"})
    got = log.get(r.query_id)
    assert got.id == r.query_id and got.question == r.question and got.answer == r.answer
    assert (got.outcome, got.category, got.origin, got.user_id, got.language) == (
        "answered",
        "attendance",
        "api",
        "U1",
        "ja",
    )
    assert got.confidence == pytest.approx(0.8) and got.latency_ms == pytest.approx(12.5)
    assert got.corpus_version == 7 and got.prompt_version == r.prompt_version
    assert got.sources == [
        {
            "source": "就業規則.md",
            "title": "就業規則",
            "section": "第34条",
            "page": 3,
            "snippet": "年次有給休暇",
            "score": 0.912,
            "url": "https://x/1",
            "kind": "doc",
            "doc_id": "d1",
        }
    ]
    assert got.meta == {"slack_channel": "C1"}
    assert got.helpful is None and got.feedback == "none" and got.resolved_at is None
    assert got.created_at.tzinfo is not None and abs(got.created_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert log.get("no-such-id") is None
    d = got.to_dict()
    assert d["feedback"] == "none" and d["created_at"].endswith("+00:00")


def test_escalated_record_keeps_reason_and_time(log):
    r = make_result(
        "社内Wi-Fiのパスワードは？", outcome="escalated", reason="low_confidence", category=None, sources=[]
    )
    log.record(r)
    got = log.get(r.query_id)
    assert got.outcome == "escalated" and got.escalation_reason == "low_confidence" and got.escalated_at is not None
    assert got.sources == [] and got.category is None


def test_recording_the_same_id_again_updates_and_merges_meta(log):
    r = make_result()
    log.record(r, meta={"a": 1})
    r.answer = "二度目"
    log.record(r, meta={"b": 2})
    got = log.get(r.query_id)
    assert got.answer == "二度目" and got.meta == {"a": 1, "b": 2}
    assert log.count() == 1


def test_feedback_escalate_meta_and_resolve(log):
    r = make_result()
    log.record(r)
    assert log.set_feedback(r.query_id, True).helpful is True
    got = log.set_feedback(r.query_id, False)
    assert got.helpful is False and got.feedback == "not_helpful" and got.feedback_at is not None
    got = log.escalate(r.query_id, "not_helpful")
    assert (got.outcome, got.escalation_reason) == ("escalated", "not_helpful") and got.escalated_at is not None
    with pytest.raises(BadRequestError):
        log.escalate(r.query_id, "because")
    log.update_meta(r.query_id, slack_channel="C9", slack_ts="1700000000.000100")
    got = log.update_meta(r.query_id, escalation_ts="1700000001.000200")
    assert got.meta == {"slack_channel": "C9", "slack_ts": "1700000000.000100", "escalation_ts": "1700000001.000200"}
    assert log.find_by_meta("escalation_ts", "1700000001.000200").id == r.query_id
    assert log.find_by_meta("escalation_ts", "nope") is None
    got = log.resolve(r.query_id, answer="  総務の回答です  ", by="sato")
    assert (got.resolution, got.resolved_by) == ("総務の回答です", "sato") and got.resolved_at is not None
    with pytest.raises(BadRequestError):
        log.resolve(r.query_id, answer="   ")
    for call in (
        lambda: log.set_feedback("missing", True),
        lambda: log.escalate("missing", "error"),
        lambda: log.update_meta("missing", a=1),
        lambda: log.resolve("missing", answer="x"),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_find_by_meta_returns_the_newest_match(log):
    old, new = make_result("古い"), make_result("新しい")
    log.record(old, meta={"thread": "T1"}, created_at=datetime.now(timezone.utc) - timedelta(hours=1))
    log.record(new, meta={"thread": "T1"})
    assert log.find_by_meta("thread", "T1").id == new.query_id


def test_claim_event_once_across_instances_and_threads(log, make_settings):
    assert log.claim_event("Ev123") is True
    assert log.claim_event("Ev123") is False
    long_key = "x" * 400
    assert log.claim_event(long_key) is True and log.claim_event(long_key) is False
    other = QueryLog(log.url)  # a second process's pool on the same database
    try:
        assert other.claim_event("Ev123") is False
        wins = []
        barrier = threading.Barrier(8)

        def claim(instance):
            barrier.wait()
            wins.append(instance.claim_event("Ev-race"))

        threads = [threading.Thread(target=claim, args=(log if i % 2 else other,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(wins) == [False] * 7 + [True]
    finally:
        other.close()


def test_filters(log):
    now = datetime.now(timezone.utc)
    a = make_result("有給休暇の申請方法", category="attendance")
    b = make_result(
        "出張旅費の精算 100%_未満", outcome="escalated", reason="low_confidence", category="expense", channel="slack"
    )
    c = make_result("備品の購入", category=None)
    log.record(a, created_at=now - timedelta(days=3))
    log.record(b, created_at=now - timedelta(days=1))
    log.record(c, created_at=now)
    log.set_feedback(a.query_id, False)
    log.set_feedback(c.query_id, True)

    def ids(**kw):
        return {r.id for r in log.search(QueryFilter(**kw), limit=None)}

    assert ids() == {a.query_id, b.query_id, c.query_id}
    assert ids(outcome="escalated") == {b.query_id}
    assert ids(category="attendance") == {a.query_id}
    assert ids(category="other") == {c.query_id}  # no category counts as other
    assert ids(since=now - timedelta(days=2)) == {b.query_id, c.query_id}
    assert ids(until=now - timedelta(days=2)) == {a.query_id}
    assert ids(q="旅費") == {b.query_id}
    assert ids(q="100%_") == {b.query_id} and ids(q="%") == {b.query_id}  # LIKE wildcards are literal
    assert (
        ids(feedback="not_helpful") == {a.query_id}
        and ids(feedback="helpful") == {c.query_id}
        and ids(feedback="none") == {b.query_id}
    )
    assert ids(origin="slack") == {b.query_id}
    assert ids(unresolved=True) == {a.query_id, b.query_id}  # escalated or unhelpful
    log.resolve(b.query_id, answer="回答", by="x")
    assert ids(unresolved=True) == {a.query_id} and ids(resolved=True) == {b.query_id}
    assert [r.id for r in log.search(limit=2)] == [c.query_id, b.query_id]  # newest first
    assert [r.id for r in log.search(offset=2, limit=2)] == [a.query_id]
    assert log.count(QueryFilter(outcome="answered")) == 2
    with pytest.raises(BadRequestError):
        QueryFilter(outcome="deflected").where()


def test_log_survives_a_restart(make_settings):
    settings = make_settings()
    first = QueryLog.from_settings(settings)
    r = make_result("再起動しても残りますか")
    first.record(r, meta={"k": "v"})
    first.set_feedback(r.query_id, True)
    first.close()
    second = QueryLog.from_settings(settings)
    try:
        got = second.get(r.query_id)
        assert (
            got is not None
            and got.question == "再起動しても残りますか"
            and got.helpful is True
            and got.meta == {"k": "v"}
        )
        assert second.count() == 1
    finally:
        second.close()


def test_migrations_reach_head_and_match_the_schema(log):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.store.querylog import MIGRATIONS
    from app.store.querylog_schema import metadata

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, f"the migrations must form one chain, found heads {heads}"
    assert log.schema_revision() == heads[0]
    log.migrate()  # idempotent
    assert log.schema_revision() == heads[0]
    with log.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


def test_sqlite_uses_wal(log):
    if log.dialect != "sqlite":
        pytest.skip("WAL is a SQLite setting")
    with log.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar().lower() == "wal"


def test_concurrent_writers_lose_no_rows(log):
    """API threads and a Slack worker (its own QueryLog, as another process would have) write and update at once."""
    slack = QueryLog(log.url)
    ids: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(instance, channel, n):
        try:
            for i in range(n):
                r = make_result(f"{channel} の質問 {i}", channel=channel)
                instance.record(r)
                instance.update_meta(r.query_id, n=i)
                instance.set_feedback(r.query_id, i % 2 == 0)
                with lock:
                    ids.append(r.query_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(log, "api", 25)) for _ in range(4)]
    threads += [threading.Thread(target=writer, args=(slack, "slack", 25)) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        slack.close()
    assert errors == []
    assert len(ids) == 150 and log.count() == 150
    assert {r.id for r in log.search(limit=None)} == set(ids)
    assert log.count(QueryFilter(origin="slack")) == 50
    assert all(r.meta.get("n") is not None and r.helpful is not None for r in log.search(limit=None))


@pytest.mark.slow  # a second Python process
def test_a_second_process_writes_into_the_same_log(log):
    """A real second process (as the Slack worker or another replica would be) writing while this one writes."""
    code = (
        "import sys, uuid\n"
        "from app.store.querylog import QueryLog\n"
        "from app.result import AnswerResult\n"
        "log = QueryLog(sys.argv[1])\n"
        "for i in range(40):\n"
        "    log.record(AnswerResult(query_id=uuid.uuid4().hex, question=f'別プロセス {i}', answer='a', outcome='answered',"
        " confidence=0.9, category='other', origin='slack'))\n"
        "log.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, log.url], cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    for i in range(40):
        log.record(make_result(f"このプロセス {i}"))
    assert proc.wait(timeout=120) == 0
    assert log.count() == 80 and log.count(QueryFilter(origin="slack")) == 40


def test_schema_is_created_by_migrations_not_by_hand(log):
    with log.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {"queries", "claimed_events", "faq_entries", "alembic_version"} <= tables
