"""`madoguchi eval loop` logic on the fast tier: round 1 through the production answer(), every miss resolved with
「FAQ に登録」 through app.ops.resolutions, round 2 judged against the original's article or its FAQ entry."""

from __future__ import annotations

import json

import pytest

from app.errors import BadRequestError
from eval.loop import LoopItem, Rewording, read_items, read_rewordings, replay, rewordings_of_questions
from tests.support.querylog import ANSWERABLE, GAP, build

WIFI_A = "ゲスト用Wi-Fiのパスワードは受付の掲示板に毎週掲示しています。"


def item(id_, question, *, answerable=True, source=None, sections=(), reference="", category="other"):
    places = [(source, list(sections))] if source else []
    return LoopItem(
        id=id_,
        question=question,
        answerable=answerable,
        category=category,
        places=places,
        reference=reference or WIFI_A,
    )


def test_a_miss_is_resolved_into_the_faq_and_its_rewording_is_answered_from_it(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    items = [
        item("q1", ANSWERABLE, source="就業規則.md", sections=["第34条"], category="attendance"),
        item("q2", GAP, answerable=False),
    ]
    rws = [
        Rewording("q2-r1", "q2", "社内Wi-Fiのゲスト用パスワードは、どこで確認できますか？"),
        Rewording("q1-r1", "q1", "年次有給休暇は何日付与されますか？"),
    ]
    s = replay(services, items, rws)
    assert s["questions"] == 2 and s["rewordings"] == 2
    assert s["staff_answered"] >= 1  # the gap question was resolved with 「FAQ に登録」
    entries = services.query_log.faq.list()
    gap = [e for e in entries if e.question == GAP]
    assert gap and gap[0].answer == WIFI_A and gap[0].created_by == "eval"
    resolved = [r for r in services.query_log.search() if r.question == GAP]
    assert resolved and resolved[0].resolution == WIFI_A  # resolved exactly as the console does
    assert s["round2_answered"] >= 1
    assert not [f for f in s["failures"] if f["of"] == "q2"], s["failures"]
    assert s["round2_precision"] == 1.0
    assert set(s["per_category"]) <= {"attendance", "other"}


def test_an_answer_from_another_place_is_wrong(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    items = [item("q1", ANSWERABLE, source="経費精算規程.md", sections=["第5条"])]  # deliberately the wrong article
    s = replay(services, items, [Rewording("r", "q1", ANSWERABLE)])
    assert s["round1_right"] == 0.0 and s["staff_answered"] == 1
    # its rewording (same text) is now answered from the FAQ entry made for it: right
    assert s["round2_right"] == 1


def test_files(tmp_path):
    q = tmp_path / "q.jsonl"
    q.write_text(
        json.dumps(
            {
                "id": "a",
                "question": "有給は何日？",
                "answerable": True,
                "source": "x.md",
                "section": "第1条",
                "answer_facts": ["10日"],
                "also_in": [{"source": "faq.xlsx", "section": "有給"}],
                "rewordings": ["年休の日数", "有休って何日"],
            },
            ensure_ascii=False,
        )
        + "\n"
        + json.dumps({"id": "b", "question": "Is there a gym?", "answerable": False})
        + "\n",
        encoding="utf-8",
    )
    items = read_items(q)
    assert items[0].places == [("x.md", ["第1条"]), ("faq.xlsx", ["有給"])] and items[0].reference == "10日。"
    assert items[1].lang == "en" and "regulations do not settle" in items[1].reference
    rows = rewordings_of_questions(q)
    assert rows == [
        {"id": "a-r1", "of": "a", "question": "年休の日数"},
        {"id": "a-r2", "of": "a", "question": "有休って何日"},
    ]
    r = tmp_path / "r.jsonl"
    r.write_text('{"id": "x", "question": "?"}\n', encoding="utf-8")
    with pytest.raises(BadRequestError):
        read_rewordings(r)


def test_rewordings_of_unknown_questions_are_refused(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    with pytest.raises(BadRequestError):
        replay(services, [item("q1", ANSWERABLE)], [Rewording("r", "nope", "x")])


def test_with_adapt_the_staff_cite_the_article_and_the_adapter_trains_between_rounds(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    items = [
        item(
            f"q{i}",
            f"{word}について教えてください{i}",
            source="就業規則.md",
            sections=["第34条"],
            category="attendance",
        )
        for i, word in enumerate(["有休の付与", "休みの日数", "年休の日数", "有給の付与日数"] * 3)
    ]
    rws = [Rewording(f"r{i}", f"q{i}", f"有給は何日もらえる？{i}") for i in range(len(items))]
    s = replay(services, items, rws, adapt=True)
    assert s["adapt"] is not None and s["adapt"]["pairs"] >= 1
    cited = [r.meta.get("resolution_cite") for r in services.query_log.search() if r.resolved_at is not None]
    assert cited and all(c and c["section"].endswith("第34条 年次有給休暇") for c in cited)
    plain = replay(build(fast_services, tmp_path / "b"), items[:1], rws[:1])
    assert plain["adapt"] is None
