"""Retention and deletion (issue 13): MADOGUCHI_LOG_RETENTION_DAYS deletes old questions at start-up, every hour and
by `madoguchi purge`; `madoguchi forget --user` and `DELETE /api/admin/askers/{user_id}` delete one asker's rows;
the monthly counts stay, so the stats count the same before and after; the query log is private on disk."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.clock import utcnow
from app.errors import ConfigError
from app.ops import retention
from app.ops.review import stats
from app.settings import Settings
from app.store.querylog import QueryLog
from app.store.querylog_schema import monthly_aggregates
from tests.support.querylog import AUTH, build, client_for, result


@pytest.fixture
def served(fast_services, tmp_path):
    services = build(fast_services, tmp_path, ingest=False)
    return services


def seed_asker(log, user_id: str, *, days_ago: float, n: int = 1, helpful: bool | None = None, slack: bool = False):
    ids = []
    for i in range(n):
        r = result(f"{user_id} の質問 {i}", user_id=user_id, channel="slack" if slack else "api")
        log.record(r, created_at=utcnow() - timedelta(days=days_ago), meta={"slack_channel": "C1"} if slack else None)
        if helpful is not None:
            log.set_feedback(r.query_id, helpful)
        ids.append(r.query_id)
    return ids


def totals(services, **kw) -> dict:
    return stats(services, since=None, until=None, bucket="week", **kw)["totals"]


def test_the_retention_setting_is_unset_by_default_and_zero_is_refused():
    assert Settings(_env_file=None).log_retention_days is None
    assert Settings(_env_file=None, log_retention_days=30).log_retention_days == 30
    with pytest.raises(ConfigError) as info:
        Settings(_env_file=None, log_retention_days=0)
    assert "MADOGUCHI_LOG_RETENTION_DAYS" in info.value.detail_en and "1 以上" in info.value.detail_ja


def test_the_env_name_of_the_retention_setting(monkeypatch):
    monkeypatch.setenv("MADOGUCHI_LOG_RETENTION_DAYS", "90")
    assert Settings(_env_file=None).log_retention_days == 90
    monkeypatch.setenv("MADOGUCHI_LOG_RETENTION_DAYS", "0")
    with pytest.raises(ConfigError):
        Settings(_env_file=None)


def test_purge_deletes_old_questions_and_the_stats_still_count_them(served):
    log = served.query_log
    old = seed_asker(log, "U_OLD", days_ago=100, n=3, helpful=True, slack=True)
    seed_asker(log, "U_OLD2", days_ago=95, n=2, helpful=False)
    recent = seed_asker(log, "U_NEW", days_ago=1, n=2)
    before = totals(served)
    before_slack = totals(served, origin="slack")

    deleted = retention.purge_expired(served, days=30)

    assert deleted == 5
    assert log.get_many(old) == [] and len(log.get_many(recent)) == 2
    with log.read() as conn:
        users = {r[0] for r in conn.execute(sa.text("SELECT user_id FROM queries"))}
        kept = conn.execute(sa.select(sa.func.sum(monthly_aggregates.c.count))).scalar()
    assert users == {"U_NEW"}
    assert kept == 5
    assert totals(served) == before, "the monthly aggregates keep the counts"
    assert totals(served, origin="slack") == before_slack
    assert totals(served)["helpful"] == 3 and totals(served)["not_helpful"] == 2
    assert retention.purge_expired(served, days=30) == 0, "nothing counted twice"
    assert totals(served) == before


def test_no_retention_setting_keeps_everything(served):
    seed_asker(served.query_log, "U_OLD", days_ago=4000)
    assert retention.purge_expired(served) == 0
    assert served.query_log.count() == 1


def test_a_server_purges_at_start_up(fast_services, tmp_path):
    services = build(fast_services, tmp_path, ingest=False, log_retention_days=30)
    seed_asker(services.query_log, "U_OLD", days_ago=31)
    seed_asker(services.query_log, "U_NEW", days_ago=29)
    with client_for(services) as client:
        for _ in range(100):  # the purge runs in the background right after start-up
            if services.query_log.count() == 1:
                break
            import time

            time.sleep(0.05)
        assert client.get("/api/admin/stats", headers=AUTH).json()["totals"]["questions"] == 2
    assert services.query_log.count() == 1


def test_delete_asker_removes_their_questions_feedback_and_slack_metadata_and_says_how_many(served):
    log = served.query_log
    mine = seed_asker(log, "U_GONE", days_ago=40, n=2, helpful=True, slack=True)
    mine += seed_asker(log, "U_GONE", days_ago=0, n=1)
    others = seed_asker(log, "U_STAYS", days_ago=0, n=2)
    before = totals(served)
    with client_for(served) as client:
        assert client.delete("/api/admin/askers/U_GONE").status_code == 401
        resp = client.delete("/api/admin/askers/U_GONE", headers=AUTH)
        assert resp.status_code == 200 and resp.json() == {"deleted": 3}
        assert client.delete("/api/admin/askers/U_GONE", headers=AUTH).json() == {"deleted": 0}
    assert log.get_many(mine) == [] and len(log.get_many(others)) == 2
    assert log.find_by_meta("slack_channel", "C1") is None
    assert totals(served) == before, "aggregate counts stay"


def test_madoguchi_forget_and_purge(fast_services, tmp_path, monkeypatch, capsys):
    from app.cli import main

    services = build(fast_services, tmp_path, ingest=False)
    seed_asker(services.query_log, "U_CLI", days_ago=2, n=2)
    seed_asker(services.query_log, "U_OLD", days_ago=50, n=1)
    monkeypatch.setenv("MADOGUCHI_DATA_DIR", str(services.settings.data_dir))
    if services.settings.database_url:
        monkeypatch.setenv("MADOGUCHI_DATABASE_URL", services.settings.database_url)

    assert main(["forget", "--user", "U_CLI", "--json"]) == 0
    assert '"deleted": 2' in capsys.readouterr().out
    assert main(["purge"]) == 2, "no retention set and no --days"
    assert main(["purge", "--days", "30"]) == 0
    assert "1" in capsys.readouterr().out
    assert services.query_log.count() == 0
    assert totals(services)["questions"] == 3


def test_the_query_log_and_data_dirs_are_private(make_settings, tmp_path):
    settings = make_settings(data_dir=tmp_path / "fresh" / "data")
    if settings.database_url:
        pytest.skip("SQLite only")
    log = QueryLog.from_settings(settings)
    log.record(result("質問"))
    db = settings.data_dir / "madoguchi.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    wal = db.with_name("madoguchi.db-wal")
    if wal.exists():
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700
    log.close()


def test_an_existing_world_readable_log_is_narrowed(make_settings, tmp_path):
    settings = make_settings(data_dir=tmp_path / "old")
    if settings.database_url:
        pytest.skip("SQLite only")
    QueryLog.from_settings(settings).close()
    db = settings.data_dir / "madoguchi.db"
    os.chmod(db, 0o644)
    QueryLog.from_settings(settings).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_a_database_at_the_first_revision_upgrades_and_keeps_its_rows(tmp_path):
    from alembic import command
    from alembic.config import Config

    from app.store.querylog import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = QueryLog(url, migrate=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with old.write() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    old.record(result("古い質問"))
    old.close()

    log = QueryLog(url)
    assert log.count() == 1
    assert log.forget_asker("U1", tz=__import__("zoneinfo").ZoneInfo("Asia/Tokyo")) == 1
    with log.read() as conn:
        assert conn.execute(sa.select(sa.func.sum(monthly_aggregates.c.count))).scalar() == 1
    log.close()


def test_any_logged_user_id_can_be_forgotten_through_the_api(served):
    seed_asker(served.query_log, "社員/001", days_ago=0, n=2)
    with client_for(served) as client:
        resp = client.delete(
            "/api/admin/askers/" + __import__("urllib.parse").parse.quote("社員/001", safe=""), headers=AUTH
        )
        too_long = client.delete("/api/admin/askers/" + "x" * 300, headers=AUTH)
    assert resp.json() == {"deleted": 2}
    assert too_long.status_code == 422 and too_long.json()["error"] == "bad_user_id"
