"""Company vocabulary (社内用語) the staff edit — fast tier: real embedded Chroma and SQLite in tmp_path, Sudachi, the
hashing embedder, real TestClients. The store record, the service, its replicas, the admin API and the console page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from app.answer import analyze, retrieve
from app.console.i18n import TEXTS
from app.errors import BadRequestError, ConfigError, NotFoundError
from app.ops import glossary
from app.retrieval.glossary import Glossary
from app.retrieval.index import CorpusIndex
from app.store.chroma import ChunkStore
from tests.support.querylog import AUTH, TOKEN, client_for

WORD, FORMAL = "ケイヒノート", "経費精算システム"
QUESTION = "ケイヒノートで申請するにはどうすればいいですか？"
CORPUS = {
    "経費精算規程.md": """---
category: expense
---
# 経費精算規程

## 第3条（経費精算システム）
経費の精算は、経費精算システムに入力して行う。領収書は画像で添付し、所属長が承認する。

## 第4条（旅費）
出張の旅費は、出張終了後2週間以内に旅費精算書で申請する。
""",
    "就業規則.md": """---
category: attendance
---
# 就業規則

## 第10条（年次有給休暇）
年次有給休暇を取得するときは、3日前までに勤怠システムで申請しなければならない。

## 第11条（特別休暇）
従業員が結婚するときは5日の特別休暇を与える。申請は所属長に行う。
""",
    "備品管理規程.md": """---
category: supplies
---
# 備品管理規程

## 第2条（備品の申請）
備品が必要なときは、総務部に備品申請書で申請する。
""",
}


def _write(folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def build(fast_services, tmp_path):
    """factory(**settings overrides) → services over the tiny corpus, ingested, admin token set."""
    made = []

    def factory(**overrides):
        docs = tmp_path / "docs"
        _write(docs)
        overrides.setdefault("admin_token", TOKEN)
        svc = fast_services(docs_dir=docs, **overrides)
        svc.ingest(paths=[docs])
        made.append(svc)
        return svc

    yield factory
    for svc in made:
        if svc.query_log is not None:
            svc.query_log.close()


@pytest.fixture
def services(build):
    return build()


def _top_section(services, question: str) -> str:
    return retrieve(question, services=services, k=5).passages[0].top.chunk.section


def _terms(services) -> dict[str, glossary.Term]:
    return {t.word: t for t in glossary.list_terms(services)}


# --- store ---
def test_store_keeps_the_staff_entries_in_one_meta_record(services):
    store = services.store
    assert store.glossary() == {}
    version = store.corpus_info()["version"]
    store.put_glossary({WORD: FORMAL, "みどりポータル": "社内ポータル 申請"})
    assert store.glossary() == {WORD: FORMAL, "みどりポータル": "社内ポータル 申請"}
    assert store.corpus_info()["version"] == version, "the caller bumps the version"
    assert all(not d.startswith("glossary") for d in store.manifest()), "not a document of the manifest"
    store.put_glossary({})
    assert store.glossary() == {}


def test_a_broken_record_is_logged_and_read_as_empty(services, caplog):
    services.store.meta.upsert(
        ids=["glossary"], embeddings=[[0.0]], documents=["{not json"], metadatas=[{"record": "glossary"}]
    )
    assert services.store.glossary() == {}
    assert "not JSON" in caplog.text


# --- service: an entry takes effect at once ---
def test_a_staff_word_expands_questions_and_finds_the_article(services):
    before = analyze(QUESTION, tokenizer=services.tokenizer, glossary=services.index.glossary)
    assert not any(FORMAL in t or "経費" in t for t in before.tokens)
    assert _top_section(services, QUESTION) != "経費精算規程 > 第3条（経費精算システム）"
    version = services.index.snapshot.version

    term = glossary.set_term(services, WORD, FORMAL, actor="test")

    assert term == glossary.Term(WORD, FORMAL, "staff", None)
    assert services.store.glossary() == {WORD: FORMAL}
    assert services.index.snapshot.version == version + 1, "the corpus version was bumped for the other replicas"
    after = analyze(QUESTION, tokenizer=services.tokenizer, glossary=services.index.glossary)
    formal_tokens = services.tokenizer.term_tokens(FORMAL)
    assert formal_tokens and all(t in after.tokens for t in formal_tokens)
    assert after.formal == FORMAL
    assert _top_section(services, QUESTION) == "経費精算規程 > 第3条（経費精算システム）"

    glossary.delete_term(services, WORD, actor="test")
    assert services.store.glossary() == {}
    assert WORD not in services.index.glossary.entries
    assert not any(
        t in analyze(QUESTION, tokenizer=services.tokenizer, glossary=services.index.glossary).tokens
        for t in formal_tokens
    )


def test_words_are_matched_as_questions_are(services):
    glossary.set_term(services, "  ｹｲﾋﾉｰﾄ ", " 経費精算システム \u3000 経費 ", actor="test")  # half-width, extra spaces
    assert services.store.glossary() == {WORD: "経費精算システム 経費"}
    assert ("ケイヒノート", "経費精算システム 経費") in services.index.glossary.expansions(QUESTION)
    glossary.set_term(services, "MidoriPortal", "社内ポータル", actor="test")
    assert "midoriportal" in services.store.glossary()
    glossary.delete_term(services, "ｍｉｄｏｒｉｐｏｒｔａｌ", actor="test")  # full-width, any case
    assert "midoriportal" not in services.store.glossary()


def test_saving_the_same_entry_again_changes_nothing(services):
    glossary.set_term(services, WORD, FORMAL, actor="test")
    version = services.store.corpus_info()["version"]
    glossary.set_term(services, WORD, FORMAL, actor="test")
    assert services.store.corpus_info()["version"] == version


@pytest.mark.parametrize(
    ("word", "formal", "code", "ja"),
    [
        ("", FORMAL, "term_word_empty", "社内用語（社員が使う言葉"),
        ("   ", FORMAL, "term_word_empty", "を入力してください"),
        ("あ" * 41, FORMAL, "term_word_too_long", "41 文字。40 文字まで"),
        (WORD, "", "term_formal_empty", "正式な用語（規程で使われる言葉"),
        (WORD, "　 ", "term_formal_empty", "スペースで区切ります"),
        (WORD, "経" * 201, "term_formal_too_long", "201 文字。200 文字まで"),
        ("ケイヒ\tノート", FORMAL, "term_control_chars", "タブや改行を使えません"),
        (WORD, "経費精算\nシステム", "term_control_chars", "タブや改行を使えません"),
        (WORD, "経費精算\tシステム", "term_control_chars", "タブや改行を使えません"),
    ],
)
def test_invalid_entries_are_refused_in_both_languages(services, word, formal, code, ja):
    with pytest.raises(BadRequestError) as got:
        glossary.set_term(services, word, formal, actor="test")
    assert got.value.code == code and got.value.status_code == 422
    assert ja in got.value.detail("ja")
    assert got.value.detail("en") != got.value.detail("ja") and got.value.detail("en")[0].isascii()
    assert services.store.glossary() == {}


def test_the_longest_allowed_entry_is_accepted(services):
    term = glossary.set_term(services, "あ" * 40, "経" * 200, actor="test")
    assert term.word == "あ" * 40 and len(term.formal) == 200


# --- origins: default, file, staff ---
def test_a_staff_word_overrides_a_default_and_deleting_it_restores_the_default(services):
    default = _terms(services)["有休"]
    assert default == glossary.Term("有休", "年次有給休暇", "default", None)
    glossary.set_term(services, "有休", "年次有給休暇 特別休暇", actor="test")
    assert _terms(services)["有休"] == glossary.Term("有休", "年次有給休暇 特別休暇", "staff", "default")
    assert services.index.glossary.entries["有休"] == "年次有給休暇 特別休暇"
    glossary.delete_term(services, "有休", actor="test")
    assert _terms(services)["有休"] == default
    assert services.index.glossary.entries["有休"] == "年次有給休暇"


def test_only_staff_words_can_be_deleted(services):
    with pytest.raises(BadRequestError) as got:
        glossary.delete_term(services, "有休", actor="test")
    assert got.value.code == "term_not_staff" and "既定の用語" in got.value.detail("ja")
    with pytest.raises(NotFoundError) as missing:
        glossary.delete_term(services, WORD, actor="test")
    assert "登録されていません" in missing.value.detail("ja")
    assert services.index.glossary.entries["有休"] == "年次有給休暇"


def test_list_puts_staff_words_first_and_filters(services):
    glossary.set_term(services, WORD, FORMAL, actor="test")
    terms = glossary.list_terms(services)
    assert terms[0].word == WORD and {t.origin for t in terms[1:]} == {"default"}
    assert len({t.word for t in terms}) == len(terms), "one row per word"
    assert [t.word for t in glossary.list_terms(services, q="経費精算シス")] == [WORD]
    assert "有休" in [t.word for t in glossary.list_terms(services, q="年次有給")]


def test_the_deployment_file_is_part_of_the_base(build, tmp_path):
    path = tmp_path / "company.tsv"
    path.write_text(
        "# our words\nみどりポータル\t社内ポータル\n有休\t年次有給休暇 リフレッシュ休暇\n", encoding="utf-8"
    )
    services = build(glossary_file=path)
    terms = _terms(services)
    assert terms["みどりポータル"] == glossary.Term("みどりポータル", "社内ポータル", "file", None)
    assert terms["有休"] == glossary.Term("有休", "年次有給休暇 リフレッシュ休暇", "file", "default")
    with pytest.raises(BadRequestError) as got:
        glossary.delete_term(services, "みどりポータル", actor="test")
    assert "ファイル（MADOGUCHI_GLOSSARY_FILE）の用語" in got.value.detail("ja")

    glossary.set_term(services, "みどりポータル", "社内ポータル 申請", actor="test")
    glossary.set_term(services, WORD, FORMAL, actor="test")
    assert _terms(services)["みどりポータル"].overrides == "file"
    glossary.delete_term(services, "みどりポータル", actor="test")
    entries = services.index.glossary.entries
    assert entries["みどりポータル"] == "社内ポータル" and entries[WORD] == FORMAL, (
        "file entries stay beside staff ones"
    )
    services.index.glossary.replace_extra({})
    assert services.index.glossary.entries["みどりポータル"] == "社内ポータル"


def test_a_missing_or_malformed_glossary_file_stops_the_start(tmp_path):
    with pytest.raises(ConfigError) as missing:
        Glossary.load(extra_file=tmp_path / "nowhere.tsv")
    assert "MADOGUCHI_GLOSSARY_FILE" in missing.value.detail("ja")
    bad = tmp_path / "bad.tsv"
    bad.write_text("タブがない行\n", encoding="utf-8")
    with pytest.raises(ConfigError) as malformed:
        Glossary.load(extra_file=bad)
    assert "bad.tsv:1" in malformed.value.detail("en")


# --- replicas ---
def test_another_replica_picks_the_entry_up_on_refresh(services):
    """Two processes sharing a store: a second ChunkStore on the same data dir with its own CorpusIndex."""
    other = CorpusIndex(ChunkStore(services.settings))
    other.refresh()
    assert WORD not in other.glossary.entries

    glossary.set_term(services, WORD, FORMAL, actor="test")
    assert other.refresh() is True
    assert other.glossary.entries[WORD] == FORMAL
    assert (WORD, FORMAL) in other.glossary.expansions(QUESTION)

    glossary.set_term(services, WORD, "経費精算システム 経費", actor="test")
    other.poll()  # what a server's background refresher does
    assert other.glossary.entries[WORD] == "経費精算システム 経費"
    glossary.delete_term(services, WORD, actor="test")
    other.poll()
    assert WORD not in other.glossary.entries and other.glossary.entries["有休"] == "年次有給休暇"


def test_a_replica_starting_later_loads_the_entries_with_its_first_snapshot(services):
    glossary.set_term(services, WORD, FORMAL, actor="test")
    late = CorpusIndex(ChunkStore(services.settings))
    late.refresh()
    assert late.glossary.entries[WORD] == FORMAL


# --- admin API ---
def test_api_lists_sets_and_deletes(services):
    with client_for(services) as client:
        assert client.get("/api/admin/glossary").status_code == 401
        listed = client.get("/api/admin/glossary", headers=AUTH).json()
        assert listed["total"] == len(listed["terms"]) > 50
        assert {"word": "有休", "formal": "年次有給休暇", "origin": "default", "overrides": None} in listed["terms"]

        r = client.put(f"/api/admin/glossary/{WORD}", json={"formal": FORMAL}, headers=AUTH)
        assert r.status_code == 200
        assert r.json() == {"word": WORD, "formal": FORMAL, "origin": "staff", "overrides": None}
        got = client.post("/api/ask", json={"question": QUESTION}).json()
        assert got["sources"][0]["section"] == "経費精算規程 > 第3条（経費精算システム）"

        staff = client.get("/api/admin/glossary", params={"q": "ケイヒ"}, headers=AUTH).json()
        assert staff["terms"] == [{"word": WORD, "formal": FORMAL, "origin": "staff", "overrides": None}]
        r = client.put("/api/admin/glossary/有休", json={"formal": "年次有給休暇 特別休暇"}, headers=AUTH)
        assert r.json()["overrides"] == "default"

        r = client.delete(f"/api/admin/glossary/{WORD}", headers=AUTH)
        assert r.status_code == 200 and r.json()["deleted"]["word"] == WORD
        assert client.delete(f"/api/admin/glossary/{WORD}", headers=AUTH).status_code == 404
        assert client.delete("/api/admin/glossary/有休", headers=AUTH).status_code == 200
        r = client.delete("/api/admin/glossary/有休", headers=AUTH)
        assert r.status_code == 422 and r.json()["error"] == "term_not_staff"
    assert services.store.glossary() == {}


def test_api_validation_errors_are_422_in_the_askers_language(services):
    with client_for(services) as client:
        r = client.put(f"/api/admin/glossary/{WORD}", json={"formal": " "}, headers=AUTH)
        assert r.status_code == 422 and r.json()["error"] == "term_formal_empty"
        assert "正式な用語" in r.json()["detail"]
        r = client.put("/api/admin/glossary/" + "あ" * 41, json={"formal": FORMAL}, headers=AUTH)
        assert r.status_code == 422 and "40 文字まで" in r.json()["detail"]
        r = client.put(
            f"/api/admin/glossary/{WORD}", json={"formal": "a\nb"}, headers={**AUTH, "Accept-Language": "en"}
        )
        assert r.status_code == 422 and "no tabs or line breaks" in r.json()["detail"]
        r = client.put(f"/api/admin/glossary/{WORD}", json={}, headers=AUTH)
        assert r.status_code == 422 and r.json()["detail"].startswith("リクエストが不正です")
    assert services.store.glossary() == {}


# --- console page ---
class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (a.get("method") or "get").lower(), "action": a.get("action"), "inputs": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["inputs"].setdefault(a["name"], a.get("value"))


def _forms(html: str) -> list[dict]:
    p = _Forms()
    p.feed(html)
    return p.forms


def _login(client) -> None:
    page = client.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/console/login", data={"csrf": csrf, "token": TOKEN, "next": "/console"}, follow_redirects=False)
    assert r.status_code == 303


def _csrf(client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/console/glossary").text).group(1)


GLOSSARY_KEYS = [k for k in TEXTS["ja"] if k.startswith(("term_", "origin_", "glossary_", "nav_glossary", "terms_"))]


@pytest.fixture
def console(services):
    with client_for(services) as client:
        yield client, services


def test_console_page_needs_login_and_renders_in_japanese(console):
    client, services = console
    r = client.get("/console/glossary", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next=")
    _login(client)
    glossary.set_term(services, WORD, FORMAL, actor="test")
    html = client.get("/console/glossary").text
    assert '<a href="/console/glossary" class="active">社内用語</a>' in html
    assert "有休" in html and "年次有給休暇" in html and ">既定<" in html and ">社内<" in html
    assert WORD in html and FORMAL in html
    english = {TEXTS["en"][k] for k in GLOSSARY_KEYS if TEXTS["en"][k] != TEXTS["ja"][k]}
    leftovers = sorted(e for e in english if e in html)
    assert not leftovers, leftovers
    for form in _forms(html):
        if form["method"] == "post":
            assert form["inputs"].get("csrf") == _csrf(client), form["action"]
    # Deleting is offered for the staff's words only; the others can be overridden.
    deletable = [f["inputs"]["word"] for f in _forms(html) if f["action"] == "/console/glossary/delete"]
    assert deletable == [WORD]
    assert f"/console/glossary?edit={'%E6%9C%89%E4%BC%91'}" in html  # 有休: 上書き登録


def test_console_form_adds_edits_and_deletes(console):
    client, services = console
    _login(client)
    r = client.post(
        "/console/glossary", data={"csrf": _csrf(client), "word": WORD, "formal": FORMAL}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/glossary?done=term_saved"
    assert "社内用語を保存しました。" in client.get(r.headers["location"]).text
    assert services.index.glossary.entries[WORD] == FORMAL
    assert _top_section(services, QUESTION) == "経費精算規程 > 第3条（経費精算システム）"

    page = client.get("/console/glossary", params={"edit": WORD}).text
    form = [f for f in _forms(page) if f["action"] == "/console/glossary"][0]
    assert form["inputs"]["word"] == WORD and form["inputs"]["formal"] == FORMAL
    client.post("/console/glossary", data={"csrf": _csrf(client), "word": WORD, "formal": "経費精算システム 経費"})
    assert services.store.glossary() == {WORD: "経費精算システム 経費"}

    override = client.get("/console/glossary", params={"edit": "有休"}).text
    assert "上書き登録" in override and 'value="年次有給休暇"' in override

    r = client.post("/console/glossary/delete", data={"csrf": _csrf(client), "word": WORD}, follow_redirects=False)
    assert r.status_code == 303 and "done=term_deleted" in r.headers["location"]
    assert "社内用語を削除しました。" in client.get(r.headers["location"]).text
    assert services.store.glossary() == {} and WORD not in services.index.glossary.entries


def test_console_refuses_bad_input_and_forms_without_csrf(console):
    client, services = console
    _login(client)
    r = client.post("/console/glossary", data={"csrf": _csrf(client), "word": WORD, "formal": ""})
    assert r.status_code == 422 and "正式な用語（規程で使われる言葉" in r.text
    r = client.post("/console/glossary/delete", data={"csrf": _csrf(client), "word": "有休"})
    assert r.status_code == 422 and "既定の用語のため、ここでは削除できません" in r.text
    for token in (None, "forged-token"):
        for path, data in (
            ("/console/glossary", {"word": WORD, "formal": FORMAL}),
            ("/console/glossary/delete", {"word": "x"}),
        ):
            r = client.post(path, data=dict(data, **({"csrf": token} if token else {})), follow_redirects=False)
            assert r.status_code == 403 and "フォームを受け付けられません" in r.text
    assert services.store.glossary() == {}


def test_console_shows_script_as_text(console):
    client, services = console
    _login(client)
    glossary.set_term(services, '<script>alert("x")</script>', '<b>経費</b> "精算"', actor="test")
    html = client.get("/console/glossary").text
    assert "<script>alert" not in html and "<b>経費" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html and "&lt;b&gt;経費&lt;/b&gt;" in html


def test_console_search_and_english(console):
    client, services = console
    _login(client)
    glossary.set_term(services, WORD, FORMAL, actor="test")
    html = client.get("/console/glossary", params={"q": "経費精算シス"}).text
    assert WORD in html and "有休" not in html
    client.get("/console/lang/en?next=/console/glossary")
    html = client.get("/console/glossary").text
    assert 'lang="en"' in html and "Company words" in html and ">Staff<" in html and ">Default<" in html
    assert "社内用語を" not in html and ">既定<" not in html
