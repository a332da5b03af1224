"""Abuse limits beyond /api/ask (issue 13): the per-asker limit also holds for Slack questions (with a polite reply,
not silence) and for feedback; one asker's flood does not push other escalations off the 「未解決の質問」 list (their
repeats are counted instead); the FAQ .xlsx import goes through the zip-bomb check."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.ops.faq_files import read_faq_file
from app.ops.unresolved import PER_ASKER, unresolved_groups
from app.errors import BadRequestError
from tests.support.querylog import AUTH, build, result
from tests.support.slack_api import FakeSlack, event_envelope, signed_headers
from tests.test_ingest_limits import office_file

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def fake():
    with FakeSlack() as slack:
        yield slack


def mention(client, text: str, *, user: str, n: int) -> None:
    ts = f"1700000{n:03d}.000100"
    ev = {"type": "app_mention", "user": user, "text": f"<@UBOT> {text}", "ts": ts, "channel": "C0ASK", "event_ts": ts}
    body = json.dumps(event_envelope(ev, event_id=f"Ev{n:05d}"))
    resp = client.post(
        "/slack/events",
        content=body.encode(),
        headers=signed_headers(SECRET, body, content_type="application/json"),
    )
    assert resp.status_code == 200, resp.text


def test_a_slack_asker_past_the_limit_gets_a_polite_reply_and_others_still_get_answers(fast_services, tmp_path, fake):
    services = build(
        fast_services,
        tmp_path,
        rate_limit_per_minute=3,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
    )
    with TestClient(create_app(services.settings, services=services)) as client:
        for i in range(4):
            mention(client, "有給休暇は何日もらえますか？", user="UFLOOD", n=i)
        mention(client, "有給休暇は何日もらえますか？", user="UOTHER", n=10)
        replies = fake.wait_for("chat.postMessage", channel="C0ASK", count=5)
    texts = [c.args.get("text") or "" for c in replies]
    refused = [t for t in texts if "短い時間にたくさんの質問" in t]
    assert len(refused) == 1, texts
    assert "1 分間に 3 件まで" in refused[0] and "秒ほど待って" in refused[0]
    logged = services.query_log.search(limit=None)
    assert sorted(r.user_id for r in logged) == ["UFLOOD"] * 3 + ["UOTHER"], "the refused question was not answered"


def test_an_english_slack_asker_is_refused_in_english(fast_services, tmp_path, fake):
    services = build(
        fast_services,
        tmp_path,
        ingest=False,
        rate_limit_per_minute=1,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
    )
    with TestClient(create_app(services.settings, services=services)) as client:
        mention(client, "How many days of paid leave do I get?", user="UEN", n=1)
        mention(client, "How many days of paid leave do I get?", user="UEN", n=2)
        replies = fake.wait_for("chat.postMessage", channel="C0ASK", count=2)
    assert any("You have asked many questions" in (c.args.get("text") or "") for c in replies)


def test_feedback_is_rate_limited_per_client_with_a_bilingual_429(fast_services, tmp_path):
    services = build(fast_services, tmp_path, ingest=False, rate_limit_per_minute=2)
    r = result("有給は？")
    services.query_log.record(r)
    with TestClient(create_app(services.settings, services=services)) as client:
        codes = [
            client.post("/api/feedback", json={"query_id": r.query_id, "helpful": True}).status_code for _ in range(3)
        ]
        refused = client.post("/api/feedback", json={"query_id": r.query_id, "helpful": False})
        asked = client.post("/api/ask", json={"question": "有給は何日？"})
    assert codes == [200, 200, 429]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "評価" in refused.json()["detail"] and "feedback" in refused.json()["detail_en"]
    assert asked.status_code != 429, "clicks do not spend the asker's questions"


def test_one_askers_flood_does_not_push_a_real_escalation_off_the_list(fast_services, tmp_path):
    services = build(fast_services, tmp_path, ingest=False)
    log = services.query_log
    now = datetime.now(UTC)
    real = result("退職届はどこに出せばいいですか", outcome="escalated", user_id="UREAL")
    log.record(real, created_at=now - timedelta(hours=2))
    for i in range(1100):
        log.record(
            result(f"テスト {i} 番目の質問です", outcome="escalated", user_id="UFLOOD"),
            created_at=now - timedelta(seconds=i),
        )

    groups = unresolved_groups(services)

    shown = [r for g in groups for r in g.records]
    assert real.query_id in {r.id for r in shown}, "the real escalation is on the list"
    assert sum(r.user_id == "UFLOOD" for r in shown) == PER_ASKER
    assert sum(g.not_shown for g in groups) == 1100 - PER_ASKER


def test_the_console_list_shows_the_repeat_count(fast_services, tmp_path):
    import re

    services = build(fast_services, tmp_path, ingest=False)
    for i in range(PER_ASKER + 7):
        services.query_log.record(result(f"同じ質問 {i}", outcome="escalated", user_id="UFLOOD"))
    with TestClient(create_app(services.settings, services=services)) as client:
        page = client.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        client.post(
            "/console/login", data={"csrf": csrf, "token": AUTH["Authorization"].split()[1], "next": "/console"}
        )
        html = client.get("/console/gaps").text
    assert "繰り返し 7 件" in html


def test_the_faq_xlsx_import_refuses_a_zip_bomb_without_inflating_it(tmp_path):
    bomb = office_file(
        tmp_path / "faq.xlsx",
        tmp_path,
        kind="xlsx",
        replace="xl/worksheets/sheet1.xml",
        piece=b" " * (1 << 20),
        times=300,
    )  # 300 MiB of spaces in well under 1 MB
    assert bomb.stat().st_size < 2 * 1024 * 1024
    started = time.perf_counter()
    with pytest.raises(BadRequestError) as err:
        read_faq_file("faq.xlsx", bomb.read_bytes())
    assert "zip bomb" in err.value.detail_en and "圧縮爆弾" in err.value.detail_ja
    assert time.perf_counter() - started < 5, "refused from the zip directory, not by reading 300 MiB"


def test_the_faq_xlsx_import_stops_at_the_row_limit(tmp_path, monkeypatch):
    import io

    import openpyxl

    from app.ops import faq_files

    monkeypatch.setattr(faq_files, "MAX_ROWS", 5)
    wb = openpyxl.Workbook()
    wb.active.append(["質問", "回答"])
    for i in range(50):
        wb.active.append([f"質問{i}", f"回答{i}"])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(BadRequestError) as err:
        read_faq_file("faq.xlsx", buf.getvalue())
    assert "5" in err.value.detail_en and "行数" in err.value.detail_ja


def test_shared_buckets_are_one_bucket_for_every_replica(tmp_path):
    from app.store.querylog import QueryLog
    from app.store.ratebuckets import SharedBuckets

    url = f"sqlite:///{tmp_path / 'log.db'}"
    now = [1000.0]
    a = SharedBuckets(QueryLog(url), per_minute=4, prefix="ask", clock=lambda: now[0])
    b = SharedBuckets(QueryLog(url), per_minute=4, prefix="ask", clock=lambda: now[0])  # another replica
    taken = [a.take("user:U1"), b.take("user:U1"), a.take("user:U1"), b.take("user:U1")]
    assert taken == [None] * 4
    wait = b.take("user:U1")
    assert wait is not None and 14 < wait <= 15, "4 a minute: the next token in 15 s"
    assert a.take("user:U2") is None, "other askers have their own bucket"
    assert SharedBuckets(QueryLog(url), per_minute=4, prefix="feedback").take("user:U1") is None, "and other limits"
    now[0] += 15
    assert a.take("user:U1") is None and b.take("user:U1") is not None


def test_the_shared_setting_puts_the_api_limit_in_the_database(fast_services, tmp_path):
    from app.store.ratebuckets import SharedBuckets

    services = build(fast_services, tmp_path, ingest=False, rate_limit_per_minute=2, rate_limit_shared=True)
    assert isinstance(services.ask_limits, SharedBuckets)
    with TestClient(create_app(services.settings, services=services)) as client:
        codes = [client.post("/api/ask", json={"question": "有給は？", "user_id": "U9"}).status_code for _ in range(2)]
    assert 429 not in codes
    replica = SharedBuckets(services.query_log, per_minute=2, prefix="ask")
    assert replica.take("user:U9") is not None, "another replica sees the spent bucket"
