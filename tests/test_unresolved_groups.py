"""「未解決の質問」 groups that mean one thing: key-word, number/date and focus agreement on top of similarity;
nothing pre-selected in the answer form; the suggested category from the questions' own words."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.ops.category_words import suggest_category
from app.ops.same_question import Agreement, focus_of, numbers_and_dates
from app.ops.unresolved import agreement_for, cluster, unresolved_groups
from eval.groups import pairwise
from tests.support.querylog import build, client_for, result


COMMON = {"発注", "申請", "方法", "支給", "いつ", "何日", "休暇"}  # words every regulation uses: low idf


@pytest.fixture
def agreement(tokenizer):
    from app.retrieval.glossary import Glossary

    return Agreement(tokenizer=tokenizer, glossary=Glossary.load(), idf=lambda t: 1.0 if t in COMMON else 5.0)


def test_numbers_dates_and_focus():
    assert numbers_and_dates("５月分の給与") == {"5"}
    assert numbers_and_dates("冬のボーナス") == {"冬"} and numbers_and_dates("給料日はいつ") == frozenset()
    assert numbers_and_dates("三日前までに申請") == {"三"}
    assert focus_of("給料日はいつですか") == {"when"}
    assert focus_of("有給休暇は何日もらえますか") == {"count"}
    assert focus_of("駐車場代は月いくら") == {"amount"}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("給料日はいつですか", "有給休暇は何日もらえますか"),  # pay day ≠ paid-leave days
        ("6月の賞与はいつ支給されますか", "12月の賞与はいつ支給されますか"),  # different months
        ("夏のボーナスの支給日は？", "冬のボーナスの支給日は？"),
        ("有給休暇は何日もらえますか", "有給休暇を申請したいのですがどうすれば？"),  # how many ≠ how to apply
        ("名刺を発注したい", "封筒を発注したい"),  # different objects
    ],
)
def test_different_questions_do_not_agree(agreement, a, b):
    assert not agreement.agree(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("駐車場の利用申請はどこでしますか", "駐車場を使いたいのですが申請方法は？"),
        ("12月の賞与はいつ支給されますか", "12月のボーナスはいつ出ますか"),
        ("名刺を追加で発注したい", "名刺を発注したいです"),
    ],
)
def test_the_same_question_agrees(agreement, a, b):
    assert agreement.agree(a, b)


def records(questions):
    now = datetime.now(timezone.utc)
    out = []
    for n, q in enumerate(questions):
        r = result(q, outcome="escalated", category="expense")
        out.append((r, now - timedelta(minutes=n)))
    return out


def test_groups_split_on_numbers_and_suggest_the_category_from_words(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    log = services.query_log
    questions = [
        "6月の賞与はいつ支給されますか",
        "12月の賞与はいつ支給されますか",
        "6月の賞与はいつ支給されますか？",
        "名刺を発注したい",
    ]
    for r, at in records(questions):
        log.record(r, created_at=at)  # the bot's attempt cited an expense manual: category "expense"
    groups = unresolved_groups(services)
    sets = sorted(sorted(r.question for r in g.records) for g in groups)
    assert ["6月の賞与はいつ支給されますか", "6月の賞与はいつ支給されますか？"] in sets
    assert all(len(s) == 1 for s in sets if "6月の賞与はいつ支給されますか" not in s)
    by_q = {r.question: g for g in groups for r in g.records}
    assert by_q["名刺を発注したい"].category == "supplies"  # from the words, not the cited manual's "expense"
    # similarity alone (the grouping before) put the months together
    plain = cluster(log.search(), embedder=services.embedder, method="average")
    assert any(len({r.question.rstrip("？") for r in g.records}) > 1 for g in plain)
    assert agreement_for(services).idf is not None


def test_suggest_category():
    assert suggest_category(["名刺を追加で発注したい"]) == "supplies"
    assert suggest_category(["出張の日当はいくら？", "日当は出る？"]) == "expense"
    assert suggest_category(["社内の雰囲気は？"]) is None


def test_answer_form_preselects_nobody(fast_services, tmp_path):
    from tests.test_console import login

    services = build(fast_services, tmp_path, admin_token="test-admin-token")
    for r, at in records(["名刺を発注したい", "名刺を発注したいです"]):
        services.query_log.record(r, created_at=at)
    [group] = [g for g in unresolved_groups(services) if g.size == 2]
    with client_for(services) as client:
        login(client)
        page = client.get(f"/console/gaps/{group.key}").text
    assert page.count('name="query_id"') == 2 and "checked" not in page.split("</fieldset>")[0]
    assert '<option value="supplies" selected' in page


def test_pairwise():
    labels = {"a": "x", "b": "x", "c": "y", "d": "y"}
    assert pairwise(labels, [["a", "b"], ["c", "d"]])["pairwise_precision"] == 1.0
    m = pairwise(labels, [["a", "b", "c"], ["d"]])
    assert m["pairwise_precision"] == round(1 / 3, 4) and m["pairwise_recall"] == 0.5
