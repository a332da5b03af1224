"""One FAQ: sheet rows and database entries in one list (API + console); a sheet row edited by the staff becomes an
override that wins over the sheet, survives re-ingest, and shows a conflict when the sheet changes."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from tests.support.querylog import AUTH, build, client_for

SHEET_Q = "社員証をなくしたときはどうすればいいですか"
SHEET_A = "総務部に紛失届を提出してください。再発行手数料は1000円です。"
EDITED_A = "すぐに総務部の内線1234へ連絡し、紛失届を提出してください。再発行は無料です。"
CHANGED_A = "総務部に紛失届を提出してください。再発行手数料は2000円です。"


def write_sheet(folder, answer: str) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["質問", "回答", "カテゴリ"])
    ws.append([SHEET_Q, answer, "備品"])
    ws.append(["会議室の予約はどこでしますか", "社内ポータルの施設予約から予約してください。", "その他"])
    wb.save(folder / "よくある質問.xlsx")


@pytest.fixture
def sheet_api(fast_services, tmp_path):
    services = build(fast_services, tmp_path, ingest=False)
    write_sheet(tmp_path / "docs", SHEET_A)
    services.ingest(paths=[tmp_path / "docs"])
    with client_for(services) as client:
        yield client, services


def ask(client, q):
    r = client.post("/api/ask", json={"question": q})
    assert r.status_code == 200, r.text
    return r.json()


def items(client, **params):
    r = client.get("/api/admin/faq/items", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_sheet_rows_and_entries_are_one_list_with_filters_and_export(sheet_api):
    client, services = sheet_api
    client.post("/api/admin/faq", json={"question": "健康診断はいつ？", "answer": "毎年6月です。"}, headers=AUTH)
    all_items = items(client)
    assert {(i["origin"], i["question"]) for i in all_items} >= {("sheet", SHEET_Q), ("staff", "健康診断はいつ？")}
    assert [i["question"] for i in items(client, origin="sheet")] == [SHEET_Q, "会議室の予約はどこでしますか"]
    assert [i["question"] for i in items(client, category="supplies")] == [SHEET_Q]
    assert [i["question"] for i in items(client, q="施設予約")] == ["会議室の予約はどこでしますか"]
    r = client.get("/api/admin/faq/items", params={"origin": "x"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"] == "bad_origin"
    data = client.get("/api/admin/faq/items.csv", headers=AUTH).content
    assert data.startswith("\ufeffquestion,answer,category,origin,source".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert [SHEET_Q, SHEET_A, "supplies", "sheet", "よくある質問.xlsx"] in rows
    wb = openpyxl.load_workbook(io.BytesIO(client.get("/api/admin/faq/items.xlsx", headers=AUTH).content))
    assert wb.active.max_row == len(all_items) + 1


def test_a_deleted_sheet_row_stays_hidden_after_reingest_until_restored(sheet_api, tmp_path):
    client, services = sheet_api
    assert ask(client, SHEET_Q)["outcome"] == "answered"
    [sheet_item] = items(client, q=SHEET_Q)
    r = client.request("DELETE", f"/api/admin/faq/items/{sheet_item['key']}", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["hidden"] is True  # the tombstone
    [listed] = items(client, q=SHEET_Q)
    assert listed["deleted"] and listed["overrides_sheet"]
    services.ingest(paths=[tmp_path / "docs"])
    got = ask(client, SHEET_Q)
    assert "1000円" not in got["answer"]  # neither the sheet row nor the tombstone answers
    r = client.request("DELETE", f"/api/admin/faq/items/{listed['key']}", headers=AUTH)  # restore
    assert r.status_code == 200
    assert "1000円" in ask(client, SHEET_Q)["answer"]


def test_an_edited_sheet_row_overrides_the_sheet_even_after_reingest_and_shows_conflicts(sheet_api, tmp_path):
    client, services = sheet_api
    before = ask(client, SHEET_Q)
    assert before["outcome"] == "answered" and "1000円" in before["answer"]
    [item] = items(client, q=SHEET_Q)
    r = client.put(f"/api/admin/faq/items/{item['key']}", json={"question": SHEET_Q, "answer": EDITED_A}, headers=AUTH)
    assert r.status_code == 200, r.text
    entry = r.json()
    assert entry["origin"] == "sheet" and entry["sheet_answer"] == SHEET_A and entry["category"] == "supplies"
    after = ask(client, SHEET_Q)
    assert "内線1234" in after["answer"] and "1000円" not in after["answer"]
    listed = items(client, q=SHEET_Q)
    assert len(listed) == 1 and listed[0]["overrides_sheet"] and listed[0]["conflict"] is None

    # the sheet is re-ingested unchanged, then with a new answer: the staff's edit still wins, the change is shown
    services.ingest(paths=[tmp_path / "docs"])
    assert "内線1234" in ask(client, SHEET_Q)["answer"]
    write_sheet(tmp_path / "docs", CHANGED_A)
    services.ingest(paths=[tmp_path / "docs"])
    got = ask(client, SHEET_Q)
    assert "内線1234" in got["answer"] and "2000円" not in got["answer"]
    [listed] = items(client, q=SHEET_Q)
    assert listed["conflict"] == {"sheet_answer": CHANGED_A, "override_answer": EDITED_A}
    r = client.post(f"/api/admin/faq/items/{listed['key']}/keep", headers=AUTH)
    assert r.status_code == 200 and r.json()["sheet_answer"] == CHANGED_A
    assert items(client, q=SHEET_Q)[0]["conflict"] is None

    # deleting the override lets the sheet row answer again
    r = client.request("DELETE", f"/api/admin/faq/items/{listed['key']}", headers=AUTH)
    assert r.status_code == 200
    assert "2000円" in ask(client, SHEET_Q)["answer"]
    assert (
        client.put("/api/admin/faq/items/snope", json={"question": "q", "answer": "a"}, headers=AUTH).status_code == 404
    )


def test_console_lists_sheet_rows_and_edits_one_into_an_override(sheet_api):
    from tests.test_console import csrf_of, login

    client, services = sheet_api
    login(client)
    page = client.get("/console/faq").text
    assert SHEET_Q in page and "シート" in page
    assert SHEET_Q in client.get("/console/faq", params={"origin": "sheet"}).text
    assert SHEET_Q not in client.get("/console/faq", params={"origin": "staff"}).text
    [item] = items(client, q=SHEET_Q)
    edit = client.get(f"/console/faq/item/{item['key']}")
    assert edit.status_code == 200 and SHEET_A in edit.text
    r = client.post(
        f"/console/faq/item/{item['key']}",
        data={"csrf": csrf_of(client), "question": SHEET_Q, "answer": EDITED_A, "category": "supplies"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert "内線1234" in ask(client, SHEET_Q)["answer"]
    page = client.get("/console/faq").text
    assert "シートを上書き" in page
    assert client.get("/console/faq.csv", params={"origin": "sheet"}).content.startswith(b"\xef\xbb\xbfquestion")
    [other] = items(client, q="施設予約")
    r = client.post(f"/console/faq/item/{other['key']}/delete", data={"csrf": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert "削除済み" in client.get("/console/faq").text and "元に戻す" in client.get("/console/faq").text
