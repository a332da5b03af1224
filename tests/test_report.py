"""The monthly KPI report on a synthetic log with known answers, every figure worked out by hand below:
自己解決率 without unhelpful answers, time and 円 saved, staff response time (median, p90), per category, per
department (from an uploaded CSV), the unresolved questions asked most, the 12-month trend, the Excel file."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import openpyxl
import pytest

from tests.support.querylog import AUTH, aware, build, client_for, result

# (JST time, question, outcome, category, helpful, user, staff answer after N minutes or None).
# minutes_per_inquiry = 6, staff_hourly_cost_yen = 3000.
LOG = [
    ("2026-10-15T10:00+09:00", "交際費の上限", "escalated", "expense", None, "U3", 60),  # October
    ("2026-10-31T23:50+09:00", "有給の残日数", "answered", "attendance", None, "U1", None),  # October (14:50 UTC)
    ("2026-11-02T09:00+09:00", "有給の申請", "answered", "attendance", True, "U1", None),
    ("2026-11-02T10:00+09:00", "特別休暇の日数", "answered", "attendance", None, "U2", None),
    (
        "2026-11-03T11:00+09:00",
        "旅費の精算期限",
        "answered",
        "expense",
        False,
        "U1",
        None,
    ),  # unhelpful: not self-resolved
    ("2026-11-04T12:00+09:00", "出張の日当", "escalated", "expense", None, "U3", 30),
    ("2026-11-05T13:00+09:00", "入館証の再発行", "escalated", "other", None, "U4", 90),
    ("2026-11-06T14:00+09:00", "名刺の発注", "escalated", "supplies", None, "U2", 10),
    (
        "2026-11-07T15:00+09:00",
        "社内Wi-Fiのパスワードは？",
        "escalated",
        "other",
        None,
        "U9",
        None,
    ),  # U9: no department
    (
        "2026-11-08T16:00+09:00",
        "社内ｗｉ－ｆｉの パスワードは",
        "escalated",
        "other",
        None,
        "U1",
        None,
    ),  # the same question
    ("2026-11-30T23:30+09:00", "半休の単位", "answered", "attendance", True, "U3", None),  # still November in Tokyo
    ("2026-12-01T00:10+09:00", "年末の休み", "answered", "attendance", None, "U1", None),  # December
]
DEPARTMENTS_CSV = "ユーザーID,部署\r\nU1,総務部\r\nU2,総務部\r\nU3,営業部\r\nU4,開発部\r\n".encode("cp932")


def seed_log(log) -> None:
    for when, question, outcome, category, helpful, user, wait in LOG:
        r = result(question, outcome=outcome, category=category, user_id=user)
        at = aware(when)
        log.record(r, created_at=at)
        if helpful is not None:
            log.set_feedback(r.query_id, helpful)
        if wait is not None:
            log.resolve(r.query_id, answer="担当者の回答", by="staff", at=at + timedelta(minutes=wait))


@pytest.fixture
def client(fast_services, tmp_path):
    services = build(fast_services, tmp_path, ingest=False, minutes_per_inquiry=6, staff_hourly_cost_yen=3000)
    seed_log(services.query_log)
    with client_for(services) as c:
        r = c.put("/api/admin/departments", content=DEPARTMENTS_CSV, headers={**AUTH, "content-type": "text/csv"})
        assert r.status_code == 200 and r.json() == {"users": 4}, r.text
        yield c


def fig(q, a, e, self_resolved, rate, helpful_rate, saved, yen, staff, median, p90) -> dict:
    return {
        "questions": q,
        "answered": a,
        "escalated": e,
        "self_resolved": self_resolved,
        "self_resolution_rate": rate,
        "helpful_rate": helpful_rate,
        "staff_minutes_saved": saved,
        "staff_cost_saved_yen": yen,
        "staff_answered": staff,
        "response_minutes_median": median,
        "response_minutes_p90": p90,
    }


def pick(figures: dict) -> dict:
    return {k: figures[k] for k in fig(*[0] * 11)}


NOVEMBER = fig(9, 4, 5, 3, 0.3333, 0.6667, 18, 900, 3, 30.0, 90.0)  # responses 10, 30, 90 min


def test_monthly_buckets_in_the_stats(client):
    r = client.get(
        "/api/admin/stats", params={"bucket": "month", "from": "2026-10-01", "to": "2026-12-31"}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    s = r.json()
    assert [(b["start"], b["end"]) for b in s["buckets"]] == [
        ("2026-10-01", "2026-11-01"),
        ("2026-11-01", "2026-12-01"),
        ("2026-12-01", "2027-01-01"),
    ]
    october, november, december = s["buckets"]
    assert pick(october) == fig(2, 1, 1, 1, 0.5, None, 6, 300, 1, 60.0, 60.0)
    assert pick(november) == NOVEMBER
    assert november["deflection_rate"] == 0.4444  # answered / questions: counts the unhelpful answer
    assert december["questions"] == 1 and s["hourly_cost_yen"] == 3000


def test_monthly_report_figures(client):
    r = client.get("/api/admin/report", params={"month": "2026-11"}, headers=AUTH)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["month"] == "2026-11" and rep["from"] == "2026-11-01T00:00:00+09:00"
    assert pick(rep["totals"]) == NOVEMBER
    assert {c: pick(f) for c, f in rep["categories"].items()} == {
        "attendance": fig(3, 3, 0, 3, 1.0, 1.0, 18, 900, 0, None, None),
        "expense": fig(2, 1, 1, 0, 0.0, 0.0, 0, 0, 1, 30.0, 30.0),
        "other": fig(3, 0, 3, 0, 0.0, None, 0, 0, 1, 90.0, 90.0),
        "supplies": fig(1, 0, 1, 0, 0.0, None, 0, 0, 1, 10.0, 10.0),
    }
    assert {d: pick(f) for d, f in rep["departments"].items()} == {
        "": fig(1, 0, 1, 0, 0.0, None, 0, 0, 0, None, None),  # U9 is not in the mapping
        "営業部": fig(2, 1, 1, 1, 0.5, 1.0, 6, 300, 1, 30.0, 30.0),
        "総務部": fig(5, 3, 2, 2, 0.4, 0.5, 12, 600, 1, 10.0, 10.0),
        "開発部": fig(1, 0, 1, 0, 0.0, None, 0, 0, 1, 90.0, 90.0),
    }
    top = [(g["question"], g["count"], g["category"]) for g in rep["unresolved_top"]]
    assert top == [("社内ｗｉ－ｆｉの パスワードは", 2, "other"), ("旅費の精算期限", 1, "expense")]
    assert rep["unresolved_top"][0]["examples"] == ["社内Wi-Fiのパスワードは？"]  # the same question, written otherwise
    assert [b["start"] for b in rep["trend"]][:1] == ["2025-12-01"] and len(rep["trend"]) == 12
    assert pick(rep["trend"][-1]) == NOVEMBER and rep["trend"][-2]["questions"] == 2


def test_median_and_p90_of_many_waits():
    from zoneinfo import ZoneInfo

    from app.store.querylog_stats import compute_stats

    start = datetime.fromisoformat("2026-11-02T00:00+00:00")
    rows = [(start, "other", "escalated", None, start, start + timedelta(minutes=m), "U") for m in range(1, 11)]
    totals = compute_stats(rows, bucket="month", tz=ZoneInfo("UTC"), minutes_per_inquiry=5)["totals"]
    assert totals["response_minutes_median"] == 5.5 and totals["response_minutes_p90"] == 9.0


def test_excel_report(client):
    r = client.get("/api/admin/report.xlsx", params={"month": "2026-11"}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert "madoguchi-report-2026-11.xlsx" in r.headers["content-disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["概要", "カテゴリ別", "部署別", "未解決トップ", "推移"]
    summary = {row[0]: row[1] for row in wb["概要"].iter_rows(min_row=4, values_only=True)}
    assert summary["対象月"] == datetime(2026, 11, 1) and summary["質問数"] == 9
    assert summary["自己解決率"] == 0.3333 and summary["削減コスト"] == 900 and summary["削減できた対応時間"] == 0.3
    assert summary["応答時間（中央値）"] == 30.0 and summary["応答時間（90パーセンタイル）"] == 90.0
    cats = {row[0]: row[1:] for row in wb["カテゴリ別"].iter_rows(min_row=2, values_only=True)}
    assert set(cats) == {"勤怠", "経費", "その他", "備品"} and cats["勤怠"][0] == 3 and cats["勤怠"][7] == 900
    depts = {row[0]: row[1] for row in wb["部署別"].iter_rows(min_row=2, values_only=True)}
    assert depts == {"総務部": 5, "営業部": 2, "開発部": 1, "未設定": 1}
    unresolved = list(wb["未解決トップ"].iter_rows(min_row=2, values_only=True))
    assert unresolved[0][1:4] == ("社内ｗｉ－ｆｉの パスワードは", 2, "その他")
    assert unresolved[0][4] == datetime(2026, 11, 7, 15, 0) and unresolved[0][5] == datetime(2026, 11, 8, 16, 0)
    assert unresolved[0][6] == "社内Wi-Fiのパスワードは？"
    trend = wb["推移"]
    assert trend["A2"].value == datetime(2025, 12, 1) and trend["A13"].value == datetime(2026, 11, 1)
    assert trend["B13"].value == 9 and trend["B12"].value == 2 and len(trend._charts) == 1


def test_bad_input_is_a_422(client):
    for month in ("2026-13", "november", "2026-1"):
        r = client.get("/api/admin/report.xlsx", params={"month": month}, headers=AUTH)
        assert r.status_code == 422 and r.json()["error"] == "bad_month", month
    r = client.put(
        "/api/admin/departments", content="U1,\nU2,総務部\n".encode(), headers={**AUTH, "content-type": "text/csv"}
    )
    assert r.status_code == 422 and r.json()["error"] == "bad_department_csv"
    assert "1 行目" in str(r.json()["detail"])
    listed = client.get("/api/admin/departments", headers=AUTH).json()
    assert listed["total"] == 4  # the refused file changed nothing


def test_a_database_from_before_the_department_table_upgrades(tmp_path):
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from app.store.querylog import MIGRATIONS, QueryLog

    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    engine.dispose()
    old = QueryLog(url, migrate=False)
    r = result("移行前の質問", user_id="U1")
    old.record(r, created_at=aware("2026-11-02T09:00+09:00"))
    old.close()
    log = QueryLog(url)  # start-up migrates to head
    try:
        assert log.get(r.query_id).question == "移行前の質問"
        assert log.departments.replace({"U1": "総務部"}) == 1 and log.departments.mapping() == {"U1": "総務部"}
    finally:
        log.close()
