"""The FAQ loop in a real headless Chromium against a real uvicorn server: edit a sheet FAQ row in the console and
get the edited answer in the next reply; accept a proposed wording with one click; the 要確認 flag appears when a
cited regulation changes and clears on confirm."""

from __future__ import annotations

import httpx
import pytest

from app.ops import faq
from tests.support.querylog import ServedApp, build
from tests.test_console_browser import ARGS, CHROMIUM, browser, log_in, pytestmark  # noqa: F401 - fixture, markers
from tests.test_faq_list import EDITED_A, SHEET_A, SHEET_Q, write_sheet


@pytest.fixture
def served(fast_services, tmp_path):
    services = build(fast_services, tmp_path, ingest=False)
    write_sheet(tmp_path / "docs", SHEET_A)
    services.ingest(paths=[tmp_path / "docs"])
    with ServedApp(services) as app:
        yield app, services


@pytest.fixture
def page(browser, served):  # noqa: F811
    context = browser.new_context(locale="ja-JP", viewport={"width": 1366, "height": 900})
    pg = context.new_page()
    pg.on("dialog", lambda d: d.accept())
    yield pg
    context.close()


def ask(app, question: str) -> dict:
    r = httpx.post(f"{app.url}/api/ask", json={"question": question}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def test_edit_a_sheet_row_accept_a_wording_and_confirm_a_changed_regulation(page, served, tmp_path):
    app, services = served
    assert "1000円" in ask(app, SHEET_Q)["answer"]
    log_in(page, app.url)

    # 1. one list: the sheet row is on the FAQ page; editing it overrides the sheet in the next reply
    page.click("header nav >> text=FAQ")
    row = page.locator("table.faq tbody tr", has_text=SHEET_Q)
    assert "シート" in row.inner_text()
    row.locator("a", has_text="編集").click()
    page.wait_for_url("**/console/faq/item/*")
    page.fill("textarea[name=answer]", EDITED_A)
    page.click("form.card button[type=submit]")
    page.wait_for_url("**/console/faq?done=faq_saved")
    assert "シートを上書き" in page.locator("table.faq").inner_text()
    assert "内線1234" in ask(app, SHEET_Q)["answer"]

    # 2. 解決した on an FAQ answer proposes the wording; one click accepts it
    asked = SHEET_Q + "？"
    got = ask(app, asked)
    assert httpx.post(f"{app.url}/api/feedback", json={"query_id": got["query_id"], "helpful": True}).status_code == 200
    page.goto(f"{app.url}/console/faq")
    proposal = page.locator("#proposals tr", has_text=asked)
    proposal.locator("button", has_text="採用").click()
    page.wait_for_url("**/console/faq?done=proposal_accepted")
    assert "言い換えを採用しました。" in page.locator(".flash").first.inner_text()
    [entry] = [e for e in faq.list_entries(services) if e.question == SHEET_Q]
    assert entry.wordings == [asked]

    # 3. an FAQ entry citing a regulation is flagged 要確認 when the regulation changes, and cleared on confirm
    c = next(c for c in services.index.snapshot.chunks if c.kind == "doc" and "第34条" in c.section)
    from app.ops import faq_citations

    leave = faq.create_entry(services, question="有休の申請期限は？", answer="3日前までです。", category="attendance")
    faq_citations.set_citations(services, leave.id, [{"doc_id": c.doc_id, "section": c.section}])
    doc = tmp_path / "docs" / "就業規則.md"
    doc.write_text(doc.read_text(encoding="utf-8").replace("3日前まで", "5日前まで"), encoding="utf-8")
    services.ingest(paths=[tmp_path / "docs"])
    page.goto(f"{app.url}/console")
    assert page.locator("#dash-faq-review").count() == 1
    page.click("#dash-faq-review a")
    page.wait_for_url("**/console/faq")
    flagged = page.locator("table.faq tbody tr", has_text="有休の申請期限は？")
    assert "要確認" in flagged.inner_text()
    flagged.locator("button", has_text="確認済みにする").click()
    page.wait_for_url("**/console/faq?done=faq_saved")
    assert page.locator("#faq-review").count() == 0
    assert "要確認" not in page.locator("table.faq tbody tr", has_text="有休の申請期限は？").inner_text()
