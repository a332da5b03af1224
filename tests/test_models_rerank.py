"""The reranker slot (app/retrieval/rerank.py) with a cross-encoder made in the test: a tiny BERT (hidden 32, two
layers, random-free weights set so the token 猫 drives its score), saved to tmp_path and loaded through
`MADOGUCHI_RERANKER=cross-encoder:<path>` like a company's model. Real embedded Chroma, SQLite query log, Sudachi;
the hashing embedder (the fast tier)."""

from __future__ import annotations

import threading

import pytest

from app.answer import DEFAULT_PARAMS, answer, params_for, retrieve
from app.errors import ConfigError
from app.retrieval.ranking import Passage, RankParams, group_passages, rank
from app.retrieval.rerank import blend, make_reranker
from tests.support.tiny_models import MAGIC_SECTION, make_cross_encoder, write_manuals

QUESTION = "有給休暇は何日もらえますか？"


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory):
    return make_cross_encoder(tmp_path_factory.mktemp("models") / "tiny-reranker")


@pytest.fixture
def manuals(tmp_path):
    return write_manuals(tmp_path / "manuals")


def _ingested(fast_services, manuals, **overrides):
    services = fast_services(**overrides)
    services.ingest(paths=[manuals])
    return services


def _sections(passages) -> list[str]:
    return [p.top.chunk.section.split(" > ")[-1] for p in passages]


def test_with_no_reranker_the_ranking_is_the_learned_one_byte_for_byte(fast_services, manuals):
    services = _ingested(fast_services, manuals)
    assert services.reranker is None
    assert params_for(services.settings) == DEFAULT_PARAMS
    got = retrieve(QUESTION, services=services, k=10)
    first = retrieve(QUESTION, services=services, k=10, second_stage=False)  # the first stage alone
    expected = rank(
        first.query, group_passages(first.hits, DEFAULT_PARAMS.depth), snapshot=first.snapshot, params=DEFAULT_PARAMS
    )[:10]
    assert [(p.top.chunk.id, p.rank_score) for p in got.passages] == [(p.top.chunk.id, p.rank_score) for p in expected]
    assert got.rerank is None
    assert all("rerank" not in p.features for p in got.passages)
    res = answer(question=QUESTION, services=services)
    assert "rerank" not in services.query_log.get(res.query_id).meta


@pytest.mark.slow
def test_a_cross_encoder_reorders_when_the_model_says_so(fast_services, manuals, cross_encoder):
    plain = _ingested(fast_services, manuals)
    learned = _sections(retrieve(QUESTION, services=plain, k=10).passages)
    assert learned[0] == "第10条（年次有給休暇）" and MAGIC_SECTION in learned[1:]

    services = _ingested(fast_services, manuals, reranker=f"cross-encoder:{cross_encoder}")
    assert services.reranker is not None and services.reranker.name == f"cross-encoder:{cross_encoder}"
    r = retrieve(QUESTION, services=services, k=10)
    assert _sections(r.passages)[0] == MAGIC_SECTION  # the passage holding 猫: the model's favourite
    assert r.rerank is not None and r.rerank.status == "ok" and r.rerank.scored == len(learned)
    top = r.passages[0].features
    assert top["rerank"] > max(p.features["rerank"] for p in r.passages[1:])
    res = answer(question=QUESTION, services=services)
    meta = services.query_log.get(res.query_id).meta
    assert meta["rerank"]["status"] == "ok" and meta["rerank"]["model"] == f"cross-encoder:{cross_encoder}"


@pytest.mark.slow
def test_a_reranker_past_its_timeout_leaves_the_learned_order_and_the_log_says_so(
    fast_services, manuals, cross_encoder
):
    services = _ingested(fast_services, manuals, reranker=f"cross-encoder:{cross_encoder}", rerank_timeout_ms=200)
    plain = _ingested(fast_services, manuals)
    learned = _sections(retrieve(QUESTION, services=plain, k=10).passages)
    busy = threading.Event()
    # The reranker's one worker thread is busy with another question's work: this one cannot be scored in time.
    services.reranker._pool.submit(busy.wait, 30)
    try:
        res = answer(question=QUESTION, services=services)
        r = retrieve(QUESTION, services=services, k=10)
    finally:
        busy.set()
    assert _sections(r.passages) == learned
    assert r.rerank is not None and r.rerank.status == "timeout"
    assert services.query_log.get(res.query_id).meta["rerank"]["status"] == "timeout"
    assert res.sources[0].section.endswith("第10条（年次有給休暇）")


def _passages(learned: list[float]) -> list[Passage]:
    return [Passage(rank_score=s) for s in learned]


def test_the_blend_rule_weighs_standardized_scores():
    learned = [3.0, 2.0, 1.0, 0.0]
    reranker = [0.0, 1.0, 2.0, 3.0]  # the reverse order

    def order(weight: float) -> list[float]:
        ps = _passages(learned)
        return [p.rank_score for p in blend(ps, reranker_scores(reranker), params=RankParams(rerank_weight=weight))]

    assert order(0.0) == learned
    assert order(1.0) == list(reversed(learned))
    assert order(0.5) == learned  # a tie everywhere: the learned order stands
    ps = _passages(learned + [-1.0])  # past rerank_top_n: keeps its place after the reranked ones
    assert blend(ps, reranker_scores(reranker), params=RankParams(rerank_weight=1.0))[-1].rank_score == -1.0


def reranker_scores(values):
    import numpy as np

    return np.asarray(values, dtype=np.float64)


@pytest.mark.parametrize("name", ["cross-encoder", "bm42:x", "colbert:foo"])
def test_an_unknown_reranker_fails_listing_the_valid_ones(name):
    with pytest.raises(ConfigError) as err:
        make_reranker(name)
    assert "cross-encoder:<name or path>" in err.value.detail_en and "リランカー" in err.value.detail_ja


@pytest.mark.slow
def test_a_missing_cross_encoder_fails_at_start_up_naming_it(tmp_path):
    with pytest.raises(ConfigError) as err:
        make_reranker(f"cross-encoder:{tmp_path / 'nope'}")
    assert "nope" in err.value.detail_en and "models fetch" in err.value.detail_en


@pytest.mark.slow
def test_calibrating_with_the_reranker_feeds_its_score_to_the_confidence(
    fast_services, manuals, cross_encoder, tmp_path
):
    import json

    from app.ops.calibration import calibrate

    services = _ingested(fast_services, manuals, reranker=f"cross-encoder:{cross_encoder}")
    questions = tmp_path / "q.jsonl"
    rows = [
        ("有給休暇は何日もらえますか？", "第10条（年次有給休暇）"),
        ("猫の看病で休めますか", MAGIC_SECTION),
        ("出張の日当はいくら？", "第5条（日当）"),
        ("宿泊費の上限は？", "第6条（宿泊費）"),
    ] * 6
    questions.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"q{i}",
                    "question": q,
                    "answerable": True,
                    "source": "旅費規程.md" if "条（日当" in sec or "宿泊" in sec else "就業規則.md",
                    "section": sec,
                },
                ensure_ascii=False,
            )
            + "\n"
            for i, (q, sec) in enumerate(rows)
        ),
        encoding="utf-8",
    )
    cal = calibrate(services=services, questions=questions)
    assert len(cal.rerank_weights) == 3 and cal.models["reranker"] == f"cross-encoder:{cross_encoder}"
    services.calibration = cal
    r = retrieve(QUESTION, services=services, k=10)
    res = answer(question=QUESTION, services=services, record=False)
    from app.answer import confidence_of

    raw = confidence_of(r, params_for(services.settings))
    assert res.confidence == pytest.approx(cal.apply(raw, r.passages[0].features["rerank_z"]))


@pytest.mark.slow
def test_eval_qa_reports_whether_the_reranker_ran(make_settings, tokenizer, manuals, cross_encoder, tmp_path):
    import json

    from app.retrieval.embedders import HashingEmbedder
    from eval.qa import format_qa, run_qa

    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {
                "id": "a",
                "question": QUESTION,
                "answerable": True,
                "source": "就業規則.md",
                "section": "第10条（年次有給休暇）",
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    settings = make_settings(reranker=f"cross-encoder:{cross_encoder}")
    run = run_qa(docs=manuals, questions=questions, settings=settings, embedder=HashingEmbedder(), tokenizer=tokenizer)
    assert run.meta["rerank_outcomes"] == {"ok": 1}
    assert f"reranker cross-encoder:{cross_encoder}, llm none; reranker ok 1" in format_qa(run)
