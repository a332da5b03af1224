"""The staff console in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright), against the app
served by a real uvicorn server: log in, charts, resolve a group into the FAQ, escaping, CSRF."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.support.querylog import GAP, TOKEN, ServedApp, build, result

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
XSS = '<script>alert("x")</script>'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def served(make_services, tmp_path):
    services = build(make_services, tmp_path)
    log = services.query_log
    now = datetime.now(timezone.utc)
    # Ten days of traffic for the charts: answered and escalated, three categories, some feedback.
    for day in range(10):
        for i in range(day % 4 + 1):
            r = result(f"有給休暇の質問 {day}-{i}", category=("attendance", "expense", "supplies")[i % 3])
            log.record(r, created_at=now - timedelta(days=day, hours=1))
            log.set_feedback(r.query_id, i % 3 != 2)
        log.record(
            result(f"交際費の上限 {day}", outcome="escalated", category="expense"),
            created_at=now - timedelta(days=day, hours=2),
        )
    for q in (GAP, "ゲスト用Wi-Fiのパスワードを知りたい"):
        log.record(result(q, outcome="escalated", category=None), created_at=now - timedelta(minutes=30))
    log.record(
        result(XSS + "有給は？", outcome="escalated", answer="ボット " + XSS), created_at=now - timedelta(minutes=5)
    )
    with ServedApp(services) as app:
        yield app, services


@pytest.fixture
def page(browser, served):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1366, "height": 800})
    pg = context.new_page()
    dialogs = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    yield pg
    context.close()


def log_in(page, url):
    page.goto(f"{url}/console")
    assert "/console/login" in page.url
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/console")


def test_log_in_see_charts_resolve_a_group_into_the_faq_then_ask(page, served, tmp_path):
    app, services = served
    log_in(page, app.url)
    assert page.locator("svg.chart").count() == 4
    bars = page.locator("svg.volume rect.bar")
    assert bars.count() >= 10
    heights = [bars.nth(i).bounding_box()["height"] for i in range(bars.count())]
    assert (
        all(h > 0 for h in heights) and len(set(round(h) for h in heights)) > 1
    )  # drawn from the data, not a placeholder
    assert page.locator("svg.categories rect.bar").count() >= 3
    assert page.locator("svg.rate circle.point").count() >= 5
    assert page.locator("svg.saved rect.bar").count() >= 5
    assert page.locator("#kpi-questions").inner_text() == str(services.query_log.count())
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    page.click("header nav >> text=未解決の質問")
    first = page.locator("li.group").first
    assert first.locator(".count strong").inner_text() == "10"  # the ten 交際費 questions
    wifi = page.locator("li.group", has_text="Wi-Fi")
    assert wifi.locator(".count strong").inner_text() == "2"
    wifi.locator("a.button").click()
    page.wait_for_url("**/console/gaps/*")
    assert page.locator("article.question").count() == 2
    page.fill("textarea[name=answer]", "ゲスト用Wi-Fiのパスワードは受付の掲示板に毎週掲示しています。")
    page.check("input[name=add_to_faq]")
    page.click("form.resolve button[type=submit]")
    page.wait_for_url("**/console/gaps?done=resolved*")
    assert "2 件の質問を解決しました" in page.locator(".flash").first.inner_text()
    assert page.locator("li.group", has_text="Wi-Fi").count() == 0

    answer = httpx.post(f"{app.url}/api/ask", json={"question": GAP}, timeout=60).json()
    assert answer["outcome"] == "answered"
    assert answer["sources"][0]["source"] == "FAQ" and "受付の掲示板" in answer["answer"]

    page.click("header nav >> text=FAQ")
    assert page.locator("table.faq tbody tr").count() == 1 and "受付の掲示板" in page.locator("table.faq").inner_text()
    assert page.dialogs == []


def test_script_in_a_question_is_shown_as_text(page, served):
    app, _ = served
    log_in(page, app.url)
    for path in ("/console/gaps", "/console/queries"):
        page.goto(app.url + path)
        assert page.get_by_text(XSS + "有給は？").first.is_visible()
    page.goto(app.url + "/console/gaps")
    page.locator("li.group", has_text="有給は？").locator("a.button").click()
    page.wait_for_url("**/console/gaps/*")
    assert XSS in page.locator("pre.attempt").first.inner_text()
    assert page.locator("script").count() == 0
    assert page.dialogs == []


def test_a_form_without_its_csrf_token_is_refused(page, served):
    app, services = served
    log_in(page, app.url)
    page.goto(app.url + "/console/faq")
    page.fill("form[action='/console/faq'] input[name=question]", "トークンなしの質問")
    page.fill("form[action='/console/faq'] textarea[name=answer]", "登録されてはいけない")
    page.evaluate("document.querySelector(\"form[action='/console/faq'] input[name=csrf]\").remove()")
    with page.expect_response(lambda r: r.url.endswith("/console/faq") and r.request.method == "POST") as info:
        page.click("form[action='/console/faq'] button[type=submit]")
    assert info.value.status == 403
    assert "フォームを受け付けられません" in page.content()
    assert services.query_log.faq.list() == []
    # The same form with its token goes through.
    page.goto(app.url + "/console/faq")
    page.fill("form[action='/console/faq'] input[name=question]", "トークンありの質問")
    page.fill("form[action='/console/faq'] textarea[name=answer]", "登録される")
    page.click("form[action='/console/faq'] button[type=submit]")
    page.wait_for_url("**/console/faq?done=faq_saved")
    assert [e.question for e in services.query_log.faq.list()] == ["トークンありの質問"]
