"""Two staff accounts in a real headless Chromium against a real uvicorn server (issue 12's "done when"): A edits an
FAQ entry, B sees A's name in the entry's history and restores the earlier version with one click; a staff account
cannot reach the admin pages. Fast stores (hashing embedder, Chroma and SQLite in tmp_path)."""

from __future__ import annotations

import os

import pytest

from app.ops import accounts, faq
from tests.support.querylog import ServedApp, build

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PW_A, PW_B = "akiyama-password-1", "baba-password-22"
ORIGINAL = "年次有給休暇は3日前までに所属長へ申請します。"
EDITED = "年次有給休暇は前日までにポータルで申請します。"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed at /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def served(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    log = services.query_log
    accounts.add_user(log, name="akiyama", role="staff", password=PW_A, actor="setup")
    accounts.add_user(log, name="baba", role="staff", password=PW_B, actor="setup")
    entry = faq.create_entry(
        services, question="有給休暇の申請期限は？", answer=ORIGINAL, category="attendance", actor="setup"
    )
    with ServedApp(services) as app:
        yield app, services, entry


def sign_in(browser, url, name, password):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())  # the restore asks for confirmation
    page.goto(f"{url}/console")
    assert "/console/login" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=token]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/console")
    assert f"{name} でログイン中" in page.inner_text("header")
    return context, page


def test_a_edits_b_sees_who_and_restores_the_earlier_version(browser, served):
    app, services, entry = served
    ctx_a, a = sign_in(browser, app.url, "akiyama", PW_A)
    a.goto(f"{app.url}/console/faq/{entry.id}")
    a.fill("textarea[name=answer]", EDITED)
    a.click("form.card button[type=submit]")
    a.wait_for_url(f"{app.url}/console/faq?done=faq_saved")
    assert services.query_log.faq.require(entry.id).answer == EDITED

    ctx_b, b = sign_in(browser, app.url, "baba", PW_B)
    b.goto(f"{app.url}/console/audit")
    first_row = b.locator("table.audit tbody tr").first
    assert "akiyama" in first_row.inner_text() and "FAQ 編集" in first_row.inner_text()
    first_row.locator("a").click()  # to the entry's history
    history = b.locator("section.history tbody tr")
    assert history.count() == 2
    assert "akiyama" in history.nth(0).inner_text() and EDITED in history.nth(0).inner_text()
    assert ORIGINAL in history.nth(1).inner_text()
    history.nth(1).locator("button.restore").click()
    b.wait_for_url(f"**/console/faq/{entry.id}?done=faq_restored")
    assert "以前の版に戻しました" in b.inner_text("main")
    assert b.input_value("textarea[name=answer]") == ORIGINAL
    assert services.query_log.faq.require(entry.id).answer == ORIGINAL
    top = b.locator("section.history tbody tr").first.inner_text()
    assert "baba" in top and "FAQ 復元" in top
    # the searchable copy the bot answers from is the restored version
    indexed = services.store.manifest()[entry.doc_id].hash
    assert indexed == faq.faq_hash(entry.question, ORIGINAL, entry.category)

    # staff accounts have no way to the admin pages: not in the navigation, 403 by URL
    nav = b.inner_text("header nav")
    assert "文書" not in nav and "スタッフ" not in nav and "変更履歴" in nav
    for path in ("/console/documents", "/console/users"):
        resp = b.goto(f"{app.url}{path}")
        assert resp.status == 403 and "このページは管理者専用です" in b.inner_text("main")
    ctx_a.close()
    ctx_b.close()
