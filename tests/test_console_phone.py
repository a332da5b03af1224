"""The console in a real headless Chromium (Debian's /usr/bin/chromium, Playwright) against a real uvicorn server,
fast-tier stores: at 390 px (a phone) no page scrolls sideways and no table cell is narrower than 4 characters,
measured in the page; and the monthly report downloads from the dashboard and opens with openpyxl."""

from __future__ import annotations

import os
from datetime import datetime

import openpyxl
import pytest

from tests.support.querylog import ServedApp, build
from tests.test_console_browser import ARGS, CHROMIUM, log_in
from tests.test_report import DEPARTMENTS_CSV, seed_log

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed at /usr/bin/chromium"),
]

PAGES = [
    "/console",
    "/console?bucket=month",
    "/console/gaps",
    "/console/queries",
    "/console/documents",
    "/console/faq",
    "/console/glossary",
    "/console/departments",
]

# Measured in the page: how far the document is wider than the window, and every rendered table cell narrower
# than 4 characters of its own font (a Japanese character is 1 em wide).
MEASURE = """() => {
  const over = document.documentElement.scrollWidth - window.innerWidth;
  const narrow = [];
  for (const cell of document.querySelectorAll('td, th')) {
    const box = cell.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not rendered (a hidden header row)
    const em = parseFloat(getComputedStyle(cell).fontSize);
    if (box.width < 4 * em) narrow.push([cell.tagName, Math.round(box.width), cell.textContent.trim().slice(0, 20)]);
  }
  const header = document.querySelector('header.top').getBoundingClientRect();
  return {over, narrow, cells: document.querySelectorAll('td').length, header: Math.round(header.height)};
}"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def served(fast_services, tmp_path):
    services = build(fast_services, tmp_path, minutes_per_inquiry=6, staff_hourly_cost_yen=3000)
    seed_log(services.query_log)
    from app.ops.departments import parse_csv

    services.query_log.departments.replace(parse_csv(DEPARTMENTS_CSV))
    services.query_log.faq.create(
        question="名刺の発注方法は？", answer="総務ポータルの「名刺発注」から申し込んでください。", category="supplies"
    )
    with ServedApp(services) as app:
        yield app, services


def test_every_page_fits_a_phone(browser, served, tmp_path):
    app, services = served
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    log_in(page, app.url)
    page.goto(app.url + "/console/queries")
    detail = page.locator("a.open").first.get_attribute("href")
    for path in [*PAGES, detail]:
        page.goto(app.url + path)
        got = page.evaluate(MEASURE)
        assert got["over"] <= 0, (path, got)
        assert got["narrow"] == [], (path, got["narrow"])
        assert got["header"] < 200, (path, got)  # the header folds into a few rows, not one character per line
        if path in ("/console/queries", "/console/documents", "/console/departments"):
            assert got["cells"] > 0, path
        page.screenshot(path=str(tmp_path / f"phone{path.replace('/', '_').replace('?', '_')}.png"), full_page=True)
    context.close()


def test_the_monthly_report_downloads_from_the_dashboard(browser, served, tmp_path):
    app, _ = served
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    log_in(page, app.url)
    page.fill("#report-form input[name=month]", "2026-11")
    with page.expect_download() as info:
        page.click("#report-download")
    download = info.value
    assert download.suggested_filename == "madoguchi-report-2026-11.xlsx"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    wb = openpyxl.load_workbook(target)
    assert wb.sheetnames == ["概要", "カテゴリ別", "部署別", "未解決トップ", "推移"]
    summary = {row[0]: row[1] for row in wb["概要"].iter_rows(min_row=4, values_only=True)}
    assert summary["対象月"] == datetime(2026, 11, 1) and summary["質問数"] == 9 and summary["削減コスト"] == 900
    assert summary["自己解決率"] == 0.3333 and summary["応答時間（90パーセンタイル）"] == 90.0
    assert {row[0]: row[1] for row in wb["部署別"].iter_rows(min_row=2, values_only=True)}["総務部"] == 5
    assert wb["推移"]["B13"].value == 9 and len(wb["推移"]._charts) == 1
    context.close()
