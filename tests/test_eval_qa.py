"""The harness's assumptions checked against the production code it measures."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.answer import answer
from eval.datasets import read_beir, read_golden
from eval.qa import ask_item, run_qa
from eval.retrieval import run_retrieval

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "golden-tiny"


@pytest.fixture(scope="module")
def golden():
    return read_golden(GOLDEN / "questions.jsonl")


def test_offline_sweep_matches_answer_at_every_threshold(make_services, golden):
    """The sweep assumes: outcome at threshold t = answered iff a passage exists and confidence ≥ t, with the same
    sources as at threshold 0. Check that against answer() itself, including thresholds exactly at a confidence."""
    services = make_services(with_log=False)
    services.ingest(paths=[GOLDEN / "docs"])
    for item in golden:
        r = ask_item(item, services=services, threshold=0.0)
        for t in (0.0, r.confidence, min(1.0, r.confidence + 1e-6), 0.5, 1.0):
            real = answer(question=item.question, services=services, threshold=t, record=False)
            assert real.outcome == ("answered" if r.answered(t) else "escalated"), (item.id, t, r.confidence)
            assert [(s.source, s.section) for s in real.sources] == [(c["source"], c["section"]) for c in r.cited]
            assert real.confidence == pytest.approx(r.confidence)


def test_run_qa_reports_what_was_cited(make_settings, embedder, tokenizer):
    run = run_qa(
        docs=GOLDEN / "docs",
        questions=GOLDEN / "questions.jsonl",
        settings=make_settings(),
        threshold=0.0,
        embedder=embedder,
        tokenizer=tokenizer,
    )
    by_id = {i.id: i for i in run.items}
    assert by_id["t-03"].cited and by_id["t-03"].hit(3)
    assert by_id["t-06"].match_ranks == []  # unanswerable: nothing can match
    assert run.meta["failed_files"] == [] and run.meta["mode"] == "extractive"
    wrong = [f for f in run.summary["failures"] if f["reason"] == "answered_unanswerable"]
    assert {f["id"] for f in wrong} == {"t-06", "t-07"}
    assert all(f["cited"] and {"source", "section", "score"} <= set(f["cited"][0]) for f in wrong)
    # facts are only looked for in answers actually given; at threshold 0 every answerable question was answered
    assert run.summary["facts_recall"] is not None


def test_run_retrieval_uses_corpus_ids(make_settings, embedder, tokenizer):
    run = run_retrieval(DATA / "beir-tiny", settings=make_settings(), k=10, embedder=embedder, tokenizer=tokenizer)
    dataset = read_beir(DATA / "beir-tiny")
    ranked = run.per_query["hybrid"]["q3"]["ranked"]
    assert set(ranked) <= set(dataset.corpus)
    assert len(ranked) == len(set(ranked))  # each document once
    assert ranked[0] == "d5"  # "Can I expense a cab ride?" → the taxi FAQ
    assert run.meta["documents"] == 8 and run.meta["chunks"] == 8
