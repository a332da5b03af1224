"""Console (TestClient, fast tier): the 月次 dashboard with 円 and response time, the monthly report download, the
部署 page, the query log's filters and detail page, and the Japanese CSV."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest

from tests.support.querylog import build, client_for, result
from tests.test_console import csrf_of, login
from tests.test_report import DEPARTMENTS_CSV, seed_log


@pytest.fixture
def console(fast_services, tmp_path):
    services = build(fast_services, tmp_path, ingest=False, minutes_per_inquiry=6, staff_hourly_cost_yen=3000)
    seed_log(services.query_log)
    with client_for(services) as client:
        login(client)
        yield client, services


def test_monthly_dashboard_shows_self_resolution_cost_and_response_time(console):
    client, _ = console
    html = client.get("/console?bucket=month&from=2026-11-01&to=2026-11-30").text
    assert re.search(r'id="kpi-questions">(\d+)<', html).group(1) == "9"
    assert (
        re.search(r'id="kpi-deflection">([^<]+)<', html).group(1) == "33%"
    )  # 3 of 9, the unhelpful answer not counted
    assert re.search(r'id="kpi-cost">([^<]+)<', html).group(1) == "900 円"
    assert re.search(r'id="kpi-response">([^<]+)<', html).group(1) == "30 分 / 90 分"
    assert '<option value="month" selected>' in html and "2026/11" in html and 'action="/console/report.xlsx"' in html


def test_report_download_and_departments_page(console):
    client, _ = console
    r = client.post(
        "/console/departments",
        data={"csrf": csrf_of(client, "/console/departments")},
        files={"file": ("map.csv", DEPARTMENTS_CSV, "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    html = client.get(r.headers["location"]).text
    assert "部署の対応表を保存しました（4 人）" in html and "総務部" in html and "開発部" in html
    r = client.get("/console/report.xlsx?month=2026-11")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert {row[0]: row[1] for row in wb["部署別"].iter_rows(min_row=2, values_only=True)}["総務部"] == 5
    r = client.get("/console/report.xlsx?month=2026-13")
    assert r.status_code == 422 and "YYYY-MM" in r.text
    r = client.post(
        "/console/departments",
        data={"csrf": csrf_of(client, "/console/departments")},
        files={"file": ("map.csv", b"U1\n", "text/csv")},
    )
    assert r.status_code == 422 and "1 行目" in r.text


def test_query_log_filters_and_detail_page(console):
    client, services = console
    html = client.get("/console/queries?feedback=not_helpful").text
    assert "全 1 件" in html and "旅費の精算期限" in html
    html = client.get("/console/queries?resolved=true").text
    assert "全 4 件" in html
    for name in ("feedback", "resolved", "channel"):
        assert f'name="{name}"' in html
    detail = re.search(r'href="(/console/queries/[0-9a-f]+)"', client.get("/console/queries?q=出張の日当").text).group(
        1
    )
    page = client.get(detail).text
    assert 'id="detail-question">出張の日当<' in page and "ボットの回答: 出張の日当" in page
    assert "就業規則 &gt; 第34条 年次有給休暇" in page and "スコア 0.900" in page
    assert "担当者の回答" in page and "質問を受けました" in page and "担当者に回しました" in page
    assert "担当者が回答しました" in page and "U3" in page
    assert client.get("/console/queries/nope").status_code == 404


def test_japanese_csv(console):
    client, services = console
    r = client.get("/console/queries.csv?q=出張の日当")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    head, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert head[:7] == ["ID", "日時", "経路", "質問者", "質問", "カテゴリ", "結果"]
    assert row["日時"] == "2026/11/04 12:00:00" and row["回答日時"] == "2026/11/04 12:30:00"  # Tokyo, no T/offset
    assert (
        row["結果"] == "エスカレーション"
        and row["カテゴリ"] == "経費"
        and row["エスカレーション理由"] == "確信度が低い"
    )
    row = dict(
        zip(
            head,
            list(csv.reader(io.StringIO(client.get("/console/queries.csv?q=有給の申請").content.decode("utf-8-sig"))))[
                1
            ],
            strict=True,
        )
    )
    assert row["結果"] == "回答済み" and row["カテゴリ"] == "勤怠" and row["評価"] == "役に立った"
    english = client.get("/console/queries.csv?q=有給の申請&lang=en").content.decode("utf-8-sig").splitlines()
    assert (
        english[0].startswith("id,created_at,channel")
        and "attendance" in english[1]
        and "T09:00:00+09:00" in english[1]
    )
    assert client.get("/console/queries.csv?lang=fr").status_code == 422


def test_api_csv_lang(console):
    client, services = console
    from tests.support.querylog import AUTH

    services.query_log.record(result("英語の質問", category=None, user_id="U5"))
    r = client.get("/api/admin/queries.csv", params={"lang": "ja", "q": "英語の質問"}, headers=AUTH)
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("ID,日時,経路") and ",その他," in lines[1] and ",回答済み," in lines[1]
    r = client.get("/api/admin/queries.csv", params={"lang": "xx"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"] == "bad_lang"
