"""The stats arithmetic on a known log: per day/week bucket and per category, worked out by hand below."""

from __future__ import annotations

import pytest

from tests.support.querylog import AUTH, aware, build, client_for, seed

# (JST time, question, outcome, category, helpful). minutes_per_inquiry = 6.
LOG = [
    ("2026-03-01T23:59+09:00", "範囲外（前日）", "answered", "attendance", None),
    ("2026-03-02T09:00+09:00", "有給の申請", "answered", "attendance", True),
    ("2026-03-02T12:00+09:00", "特別休暇の日数", "answered", "attendance", None),
    ("2026-03-02T13:00+09:00", "交際費の上限", "escalated", "expense", None),
    ("2026-03-02T23:30+09:00", "半休の単位", "answered", "attendance", False),
    ("2026-03-03T00:30+09:00", "旅費の精算期限", "answered", "expense", True),  # 15:30 UTC on 3/2, but 3/3 in Tokyo
    ("2026-03-03T10:00+09:00", "交通費の申請", "answered", "expense", True),
    ("2026-03-03T11:00+09:00", "社内Wi-Fi", "escalated", None, False),
    ("2026-03-10T09:00+09:00", "名刺の発注", "answered", "supplies", False),
    ("2026-03-11T00:10+09:00", "範囲外（翌日）", "answered", "supplies", True),
]


def metrics(q, a, e, defl, helpful, not_helpful, rate, saved):
    return {
        "questions": q,
        "answered": a,
        "escalated": e,
        "deflection_rate": defl,
        "helpful": helpful,
        "not_helpful": not_helpful,
        "helpful_rate": rate,
        "staff_minutes_saved": saved,
    }


EMPTY = metrics(0, 0, 0, None, 0, 0, None, 0)


def sub(figures: dict) -> dict:
    """The figures this file checks (tests/test_report.py checks the rest: 自己解決率, 円, response times)."""
    return {k: figures[k] for k in EMPTY}


@pytest.fixture
def stats_client(fast_services, tmp_path):
    services = build(fast_services, tmp_path, ingest=False, minutes_per_inquiry=6)
    seed(services.query_log, [(aware(t), q, o, c, h) for t, q, o, c, h in LOG])
    with client_for(services) as client:
        yield client


def get_stats(client, **params):
    r = client.get("/api/admin/stats", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()


def test_daily_buckets_and_categories(stats_client):
    s = get_stats(stats_client, **{"from": "2026-03-02", "to": "2026-03-10", "bucket": "day"})
    assert s["bucket"] == "day" and s["timezone"] == "Asia/Tokyo" and s["minutes_per_inquiry"] == 6
    assert sub(s["totals"]) == metrics(8, 6, 2, 0.75, 3, 3, 0.5, 24)
    assert {c: sub(f) for c, f in s["categories"].items()} == {
        "attendance": metrics(3, 3, 0, 1.0, 1, 1, 0.5, 12),
        "expense": metrics(3, 2, 1, 0.6667, 2, 0, 1.0, 12),
        "other": metrics(1, 0, 1, 0.0, 0, 1, 0.0, 0),  # no category counts as other
        "supplies": metrics(1, 1, 0, 1.0, 0, 1, 0.0, 0),  # answered but unhelpful: no time saved
    }
    days = s["buckets"]
    assert [b["start"] for b in days] == [f"2026-03-{d:02d}" for d in range(2, 11)]  # empty days are there, as zeros
    strip = sub
    assert strip(days[0]) == metrics(4, 3, 1, 0.75, 1, 1, 0.5, 12)
    assert {c: sub(f) for c, f in days[0]["categories"].items()} == {
        "attendance": metrics(3, 3, 0, 1.0, 1, 1, 0.5, 12),
        "expense": metrics(1, 0, 1, 0.0, 0, 0, None, 0),
    }
    assert strip(days[1]) == metrics(3, 2, 1, 0.6667, 2, 1, 0.6667, 12)
    assert {c: sub(f) for c, f in days[1]["categories"].items()} == {
        "expense": metrics(2, 2, 0, 1.0, 2, 0, 1.0, 12),
        "other": metrics(1, 0, 1, 0.0, 0, 1, 0.0, 0),
    }
    for b in days[2:8]:
        assert strip(b) == EMPTY and b["categories"] == {}
    assert strip(days[8]) == metrics(1, 1, 0, 1.0, 0, 1, 0.0, 0) and days[8]["end"] == "2026-03-11"


def test_weekly_buckets_start_on_monday(stats_client):
    s = get_stats(stats_client, **{"from": "2026-03-02", "to": "2026-03-10", "bucket": "week"})
    weeks = s["buckets"]
    assert [(w["start"], w["end"]) for w in weeks] == [("2026-03-02", "2026-03-09"), ("2026-03-09", "2026-03-16")]
    assert {k: weeks[0][k] for k in metrics(0, 0, 0, 0, 0, 0, 0, 0)} == metrics(7, 5, 2, 0.7143, 3, 2, 0.6, 24)
    assert sub(weeks[0]["categories"]["expense"]) == metrics(3, 2, 1, 0.6667, 2, 0, 1.0, 12)
    assert weeks[1]["questions"] == 1 and weeks[1]["staff_minutes_saved"] == 0
    assert sub(s["totals"]) == metrics(8, 6, 2, 0.75, 3, 3, 0.5, 24)


def test_whole_log_and_filters(stats_client):
    s = get_stats(stats_client)  # no range: first to last question
    assert (
        s["totals"]["questions"] == 10
        and s["buckets"][0]["start"] == "2026-03-01"
        and s["buckets"][-1]["start"] == "2026-03-11"
    )
    assert sub(get_stats(stats_client, category="expense")["totals"]) == metrics(3, 2, 1, 0.6667, 2, 0, 1.0, 12)
    assert sub(get_stats(stats_client, **{"from": "2026-04-01", "to": "2026-04-02"})["totals"]) == EMPTY


def test_stats_reject_bad_input(stats_client):
    for params in (
        {"bucket": "year"},
        {"from": "2026-03-10", "to": "2026-03-01"},
        {"from": "yesterday"},
        {"from": "1900-01-01", "to": "2026-01-01", "bucket": "day"},
    ):
        r = stats_client.get("/api/admin/stats", params=params, headers=AUTH)
        assert r.status_code == 422, params
