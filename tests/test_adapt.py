"""The query adapter a deployment trains on its own use (app/ops/adapt.py, `madoguchi adapt`): real services with
the hashing embedder (which knows spelling, not meaning — so a colloquial word that shares no characters with the
regulations' term is exactly what it cannot match until it learns it), SQLite and embedded Chroma."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest

from app.answer import answer, retrieve, served_adapter
from app.ops import adapt
from app.ops.resolutions import resolve_questions
from app.retrieval.adapter import QueryAdapter
from app.retrieval.adapter_fit import fit_adapter
from app.services import build_services
from app.retrieval.embedders import HashingEmbedder
from app.errors import BadRequestError

RULES = """---
category: other
---
# 社員規程

## 第10条（賞与）
賞与は毎年6月と12月の支給日に、会社の業績と本人の査定に基づき支給する。

## 第11条（通勤手当）
通勤手当は、最も経済的な経路による定期券の代金を月額5万円まで支給する。

## 第12条（情報機器の貸与）
業務に用いる情報機器は、情報システム課が従業員に貸与する。

## 第13条（慶弔見舞金）
従業員本人が婚姻したときは、祝金として3万円を支給する。

## 第14条（在宅勤務）
所属長の許可を得た従業員は、週2日まで自宅で勤務することができる。
"""

# Colloquial words employees use that share no two characters in a row with the article that answers them.
TOPICS = {
    "第10条（賞与）": "ボーナス",
    "第11条（通勤手当）": "電車代",
    "第12条（情報機器の貸与）": "ノートPC",
    "第13条（慶弔見舞金）": "ご祝儀",
    "第14条（在宅勤務）": "リモートワーク",
}
ASKED = [
    "{w}はいつもらえますか",
    "{w}について教えてください",
    "{w}の手続きは？",
    "{w}ってどうなってますか",
    "{w}の条件を知りたいです",
    "{w}の規定はありますか",
    "{w}の決まりを教えて",
]
LATER = ["{w}の件で質問があります", "{w}のルールは？", "{w}ってどういう扱い？"]


@pytest.fixture
def services(fast_services, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "社員規程.md").write_text(RULES, encoding="utf-8")
    svc = fast_services(docs_dir=docs, adapter_refresh_seconds=0)
    svc.ingest(paths=[docs])
    yield svc
    svc.query_log.close()


def teach(services, topics=TOPICS, templates=ASKED, *, cite_of=None) -> None:
    """Employees ask; the bot cannot answer; the staff answer each question citing the article (the product path)."""
    for section, word in topics.items():
        for template in templates:
            result = answer(question=template.format(w=word), services=services, origin="api", user_id="u1")
            cited = cite_of(section, result.query_id) if cite_of else section
            asyncio.run(
                resolve_questions(
                    services,
                    [result.query_id],
                    answer="規程のとおりです。",
                    by="staff",
                    cite={"source": "社員規程.md", "section": cited},
                )
            )


def dense_rank(services, question: str, section: str, adapter) -> int:
    """Rank of the article among all passages by dense similarity of the (adapted) question alone."""
    r = retrieve(question, services=services, k=50, second_stage=False, adapter=adapter)
    snap = r.snapshot
    vector = r.query.vector
    order = np.argsort(-(snap.vectors @ vector), kind="stable")
    sections = [snap.chunks[i].section for i in order]
    return next(i for i, s in enumerate(sections) if s.endswith(section))


def test_staff_citations_teach_search_new_wordings_of_the_same_topics(services):
    teach(services)
    signals = adapt.collect_signals(services)
    assert len(signals) == len(TOPICS) * len(ASKED)
    assert {s.kind for s in signals} == {"resolution"}

    before = {(s, w, t): dense_rank(services, t.format(w=w), s, None) for s, w in TOPICS.items() for t in LATER}
    report = adapt.adapt(services, by="test")
    assert report.swapped, report
    assert report.version is not None and report.active_version == report.version
    assert report.heldout_hit1_after >= report.heldout_hit1_before
    own = services.adapter.current()
    assert isinstance(own, QueryAdapter) and own.embedder == services.embedder.name
    assert served_adapter(services) is own
    after = {k: dense_rank(services, k[2].format(w=k[1]), k[0], own) for k in before}
    # New wordings (never fed) of the taught topics now find their article by meaning.
    assert sum(after.values()) < sum(before.values())
    assert sum(r == 0 for r in after.values()) > sum(r == 0 for r in before.values())
    assert sum(r == 0 for r in after.values()) >= 0.8 * len(after)


def test_a_worse_adapter_is_refused_and_the_served_one_stays(services):
    """New training questions cite the wrong article (ボーナス → 在宅勤務 …) while those the split holds out cite
    the right one: the candidate learns the wrong thing, its held-out rank-1 drops, and it is stored, not served."""
    sections = list(TOPICS)
    wrong = {s: sections[(i + 1) % len(sections)] for i, s in enumerate(sections)}
    teach(services)  # a first, good version
    good = adapt.adapt(services, by="test")
    assert good.swapped
    # Now many more questions per topic, every one cited to the neighbouring topic's article.
    many = [t + suffix for t in ASKED for suffix in ("", "？", "。お願いします")]
    doc_id = services.index.snapshot.chunks[0].doc_id

    def split(section: str, qid: str) -> str:
        target = adapt.Target.of({"doc_id": doc_id, "source": "社員規程.md", "section": section})
        return adapt.split_of(adapt.Signal("", f"q:{qid}", "resolution", right=[target]))

    def cite_of(section: str, qid: str) -> str:
        # Held-out questions keep the right article; those that will train learn the wrong one.
        if split(section, qid) != "train":
            return section
        return wrong[section] if split(wrong[section], qid) == "train" else section

    teach(services, templates=many, cite_of=cite_of)
    bad = adapt.adapt(services, by="test")
    assert bad.heldout_hit1_after < bad.heldout_hit1_before
    assert not bad.swapped and bad.reason == "heldout_dropped"
    assert bad.active_version == good.version
    assert services.adapter.current() is not None
    assert services.adapter.version == good.version
    versions = services.query_log.adapters.list()
    assert [v.active for v in versions][:2] == [False, True]


def test_rollback_and_a_replica_follows_the_active_version(services, tokenizer):
    replica = build_services(
        services.settings.model_copy(update={}), embedder=HashingEmbedder(), tokenizer=tokenizer, load_index=False
    )
    assert replica.adapter.current() is None
    teach(services)
    first = adapt.adapt(services, by="test")
    assert first.swapped
    assert replica.adapter.current() is not None and replica.adapter.version == first.version
    teach(services, templates=LATER)
    second = adapt.adapt(services, by="test")
    assert second.swapped and second.version != first.version
    assert replica.adapter.current() is not None and replica.adapter.version == second.version

    assert adapt.rollback(services).version == first.version
    replica.adapter.current()
    assert replica.adapter.version == first.version
    assert adapt.rollback(services) is None  # back to the shipped adapter
    assert replica.adapter.current() is None
    with pytest.raises(BadRequestError):
        adapt.rollback(services)
    replica.query_log.close()


def test_too_few_pairs_train_nothing(services):
    teach(services, topics=dict(list(TOPICS.items())[:1]), templates=ASKED[:2])
    report = adapt.adapt(services)
    assert report.reason == "too_few_pairs" and report.version is None and not report.swapped
    assert services.query_log.adapters.list() == []


def test_feedback_and_faq_entries_are_signals(services):
    from app.ops.faq import create_entry

    ok = answer(question="賞与の支給日はいつですか", services=services, user_id="u2")
    services.query_log.set_feedback(ok.query_id, True)
    bad = answer(question="ボーナスの査定は？", services=services, user_id="u3")
    services.query_log.set_feedback(bad.query_id, False)
    entry = create_entry(services, question="ノートPCが壊れたら？", answer="情報システム課へ。", category="other")
    signals = {s.question: s for s in adapt.collect_signals(services)}
    assert signals["賞与の支給日はいつですか"].kind == "feedback"
    assert signals["賞与の支給日はいつですか"].right[0].section == ok.sources[0].section
    assert "ボーナスの査定は？" not in signals  # a negative alone teaches nothing until the staff cite the answer
    asyncio.run(
        resolve_questions(
            services,
            [bad.query_id],
            answer="6月と12月です。",
            cite={"source": "社員規程.md", "section": "第10条（賞与）"},
        )
    )
    signals = {s.question: s for s in adapt.collect_signals(services)}
    assert signals["ボーナスの査定は？"].right[0].section == "第10条（賞与）"
    first = bad.sources[0].section
    assert signals["ボーナスの査定は？"].wrong == (
        [] if first.endswith("第10条（賞与）") else [adapt.Target.of(bad.sources[0].__dict__)]
    )
    assert signals["ノートPCが壊れたら？"].right[0].doc_id == entry.doc_id


def test_a_cite_must_name_an_indexed_article_and_reaches_the_asker(services):
    relayed = []
    services.resolution_hooks.append(lambda record, text: relayed.append(text) or True)
    q = answer(question="ボーナスはいつ？", services=services, user_id="u4")
    with pytest.raises(BadRequestError) as err:
        asyncio.run(resolve_questions(services, [q.query_id], answer="x", cite={"source": "ない.md", "section": ""}))
    assert err.value.code == "bad_cite"
    assert services.query_log.get(q.query_id).resolved_at is None  # nothing written before the check
    asyncio.run(
        resolve_questions(
            services,
            [q.query_id],
            answer="6月と12月です。",
            cite={"source": "社員規程.md", "section": "第10条（賞与）"},
        )
    )
    assert relayed and "6月と12月です。" in relayed[0] and "第10条（賞与）" in relayed[0] and "根拠" in relayed[0]
    assert services.query_log.get(q.query_id).meta["resolution_cite"]["section"] == "第10条（賞与）"


def test_fitting_from_a_base_stays_near_it():
    rng = np.random.default_rng(0)
    d = 8
    base = np.eye(d, dtype=np.float32) + 0.1 * rng.standard_normal((d, d)).astype(np.float32)
    from app.retrieval.adapter_fit import Pair

    pairs = [
        Pair(
            query=rng.standard_normal(d).astype(np.float32),
            candidates=rng.standard_normal((4, d)).astype(np.float32),
            right=np.array([True, False, False, False]),
        )
        for _ in range(4)
    ]
    fitted = fit_adapter(pairs, embedder="x", base=base, penalty=100.0, epochs=1)
    assert np.abs(fitted.matrix - base).max() < 0.05
    assert np.abs(fitted.matrix - np.eye(d)).max() > 0.05


def test_background_training_waits_for_enough_new_pairs_and_one_replica(services):
    services.settings = services.settings.model_copy(update={"adapt_min_new_pairs": 20})
    teach(services, templates=ASKED[:2])  # 10 pairs: not enough
    assert adapt.maybe_adapt(services, slot="1") is None
    teach(services, templates=ASKED[2:])  # 35 in all
    report = adapt.maybe_adapt(services, slot="2")
    assert report is not None and report.version is not None
    assert adapt.maybe_adapt(services, slot="2") is None  # nothing new since
    teach(services, templates=LATER + [t + "？" for t in ASKED])  # 40 more
    assert adapt.maybe_adapt(services, slot="2") is None  # this interval was claimed already
    assert adapt.maybe_adapt(services, slot="3") is not None


# --- through HTTP: the admin API and the console ---
TOKEN = "adapter-test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(fast_services, tmp_path):
    from tests.support.querylog import client_for

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "社員規程.md").write_text(RULES, encoding="utf-8")
    svc = fast_services(docs_dir=docs, adapter_refresh_seconds=0, admin_token=TOKEN)
    svc.ingest(paths=[docs])
    with client_for(svc) as c:
        yield c, svc


def test_api_resolve_with_cite_train_status_and_rollback(client):
    c, svc = client
    ids = []
    for section, word in TOPICS.items():
        for template in ASKED:
            r = c.post("/api/ask", json={"question": template.format(w=word), "user_id": f"u-{word}-{template}"})
            assert r.status_code == 200, r.text
            ids.append((r.json()["query_id"], section))
    bad = c.post(
        f"/api/admin/queries/{ids[0][0]}/resolve",
        json={"answer": "x", "cite": {"source": "社員規程.md", "section": "第99条"}},
        headers=AUTH,
    )
    assert bad.status_code == 422 and bad.json()["error"] == "bad_cite"
    for qid, section in ids:
        r = c.post(
            f"/api/admin/queries/{qid}/resolve",
            json={"answer": "規程のとおりです。", "cite": {"source": "社員規程.md", "section": section}},
            headers=AUTH,
        )
        assert r.status_code == 200, r.text
    assert c.get("/api/admin/adapter").status_code == 401
    assert c.get("/api/admin/adapter", headers=AUTH).json()["active"] is None
    report = c.post("/api/admin/adapter/train", headers=AUTH).json()
    assert set(report) >= {"pairs", "heldout_hit1_before", "heldout_hit1_after", "swapped", "version"}
    assert report["pairs"] == len(ids) and report["swapped"]
    status = c.get("/api/admin/adapter", headers=AUTH).json()
    assert status["active"]["version"] == report["version"]
    # The console shows it on the dashboard and its own page.
    from tests.test_console import login

    assert login(c, TOKEN).status_code == 303
    page = c.get("/console/adapter")
    assert page.status_code == 200 and f"v{report['version']}" in page.text and "検索の学習" in page.text
    assert f"v{report['version']}" in c.get("/console").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = c.post("/console/adapter/rollback", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert c.get("/api/admin/adapter", headers=AUTH).json()["active"] is None
    assert "一つ前に戻しました" in c.get(done.headers["location"]).text
    again = c.post("/api/admin/adapter/rollback", headers=AUTH)
    assert again.status_code == 422 and again.json()["error"] == "no_adapter"


def test_console_answer_form_offers_the_bots_articles_to_cite(client):
    c, svc = client
    from tests.test_console import login

    r = c.post("/api/ask", json={"question": "ボーナスはいつもらえますか", "user_id": "u1"}).json()
    assert login(c, TOKEN).status_code == 303
    groups = c.get("/console/gaps").text
    key = re.search(r'href="/console/gaps/([^"?]+)"', groups).group(1)
    page = c.get(f"/console/gaps/{key}").text
    assert 'name="cite"' in page and "第10条（賞与）" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    sent = c.post(
        f"/console/gaps/{key}/resolve",
        data={
            "csrf": csrf,
            "query_id": r["query_id"],
            "answer": "6月と12月です。",
            "cite": "社員規程.md||第10条（賞与）",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    record = svc.query_log.get(r["query_id"])
    assert record.resolved_at is not None and record.meta["resolution_cite"]["section"] == "第10条（賞与）"


def test_eval_adapt_reports_before_and_after_on_held_back_wordings(make_settings, tmp_path):
    import json

    from eval.adapt_eval import format_adapt, run_adapt_eval

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "社員規程.md").write_text(RULES, encoding="utf-8")
    rows = []
    for n, (section, word) in enumerate(TOPICS.items()):
        for m, template in enumerate(ASKED):
            rows.append(
                {
                    "id": f"q{n}-{m}",
                    "question": template.format(w=word),
                    "answerable": True,
                    "source": "社員規程.md",
                    "section": section,
                    "rewordings": [LATER[m % 3].format(w=word), LATER[(m + 1) % 3].format(w=word) + "？"],
                }
            )
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    settings = make_settings(embedder="hash:256")
    out = run_adapt_eval(docs=docs, questions=questions, rewordings=None, settings=settings, threshold=0.5)
    assert out["topics_fed"] + out["topics_other"] == len(TOPICS) and out["topics_fed"] > 0
    assert out["staff_answered"] == 2 * len(ASKED) * out["topics_fed"]
    fed = out["fed_topics"]
    assert fed["before"]["questions"] == len(ASKED) * out["topics_fed"]
    assert out["adapt"]["swapped"]
    assert fed["after"]["rank1"] > fed["before"]["rank1"]  # wordings it never saw, of topics the staff answered
    assert "(a) new wordings of fed topics" in format_adapt(out)


def test_forgetting_an_asker_removes_their_pairs_from_the_next_training(services):
    from app.ops.retention import forget_asker

    teach(services)  # every question asked as user u1
    other = answer(question="ボーナスの支給日は？", services=services, user_id="u2")
    asyncio.run(
        resolve_questions(
            services, [other.query_id], answer="6月と12月", cite={"source": "社員規程.md", "section": "第10条（賞与）"}
        )
    )
    assert len(adapt.collect_signals(services)) == len(TOPICS) * len(ASKED) + 1
    assert forget_asker(services, "u1") == len(TOPICS) * len(ASKED)
    left = adapt.collect_signals(services)
    assert [s.question for s in left] == ["ボーナスの支給日は？"]
    assert adapt.adapt(services).reason == "too_few_pairs"
