"""`madoguchi eval retrieval` and `madoguchi eval qa` end to end on the small fixtures in tests/data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main

DATA = Path(__file__).resolve().parent / "data"
BEIR = DATA / "beir-tiny"
GOLDEN = DATA / "golden-tiny"

RETRIEVAL_KEYS = {"ndcg@10", "recall@10", "mrr@10", "hit@1", "hit@5", "queries", "latency_mean_ms", "latency_p95_ms"}
QA_KEYS = {"hit@1", "hit@3", "answer_precision", "deflection_rate", "escalation_recall", "facts_recall"}


def _json_out(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out)


def test_eval_retrieval_cli_json_ablation_and_report(capsys, tmp_path):
    assert main(["eval", "retrieval", str(BEIR), "--ablation", "--json", "--report", str(tmp_path / "rep")]) == 0
    data = _json_out(capsys)
    assert set(data) == RETRIEVAL_KEYS | {"ablation"}
    assert set(data["ablation"]) == {"lexical", "dense"}
    for mode in data["ablation"].values():
        assert set(mode) == RETRIEVAL_KEYS
    assert data["queries"] == 5  # q6 has no judgements
    for key in ("ndcg@10", "recall@10", "mrr@10", "hit@1", "hit@5"):
        assert 0.0 <= data[key] <= 1.0
    # eight documents and five distinctive queries: every relevant document is within the top 5 by the hybrid search
    assert data["hit@5"] == 1.0
    assert data["recall@10"] >= 0.9
    assert data["latency_p95_ms"] >= data["latency_mean_ms"] * 0.5 > 0
    assert (tmp_path / "rep" / "retrieval-beir-tiny.md").read_text(encoding="utf-8").startswith("# retrieval-beir-tiny")
    assert (tmp_path / "rep" / "retrieval-beir-tiny-latency.png").stat().st_size > 1000


def test_eval_retrieval_cli_text_and_k(capsys):
    assert main(["eval", "retrieval", str(BEIR), "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert "ndcg@3" in out and "recall@3" in out and "hybrid" in out
    assert "8 documents" in out and "5 queries" in out


def test_eval_qa_cli_json_and_report(capsys, tmp_path):
    args = [
        "eval",
        "qa",
        "--docs",
        str(GOLDEN / "docs"),
        "--questions",
        str(GOLDEN / "questions.jsonl"),
        "--json",
        "--report",
        str(tmp_path / "rep"),
    ]
    assert main(args) == 0
    data = _json_out(capsys)
    assert QA_KEYS <= set(data)
    assert {"per_category", "sweep", "failures"} <= set(data)
    assert data["questions"] == 7 and data["answerable"] == 5
    assert set(data["per_category"]) == {"attendance", "expense", "supplies", "other"}
    assert set(data["per_category"]["other"]) >= QA_KEYS
    assert data["per_category"]["other"]["hit@1"] is None  # no answerable question in that category
    # the fixture's questions name their article plainly: the right one is among the first three cited
    assert data["hit@3"] == 1.0
    sweep = data["sweep"]
    assert len(sweep) == 101 and sweep[0]["threshold"] == 0.0 and sweep[-1]["threshold"] == 1.0
    assert set(sweep[0]) == {"threshold", "answer_precision", "deflection_rate", "escalation_recall", "answered"}
    recalls = [r["escalation_recall"] for r in sweep]
    assert recalls == sorted(recalls)
    assert sweep[0]["deflection_rate"] == data["hit@1"]  # at threshold 0 every question with a passage is answered
    for f in data["failures"]:
        assert f["reason"] in {"wrong_source", "escalated", "answered_unanswerable"}
        assert isinstance(f["cited"], list)
    md = (tmp_path / "rep" / "qa-questions.md").read_text(encoding="utf-8")
    assert "## Threshold sweep" in md and "## Per category" in md
    for png in ("sweep", "latency", "categories"):
        assert (tmp_path / "rep" / f"qa-questions-{png}.png").stat().st_size > 1000


def test_eval_qa_cli_threshold_zero_answers_everything(capsys):
    args = [
        "eval",
        "qa",
        "--docs",
        str(GOLDEN / "docs"),
        "--questions",
        str(GOLDEN / "questions.jsonl"),
        "--threshold",
        "0",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "threshold 0.00" in out
    assert "escalation_recall=0.000" in out  # both unanswerable questions get (wrongly) answered at threshold 0
    assert "[answered_unanswerable]" in out and "t-06" in out and "t-07" in out


def test_eval_errors_are_reported_not_raised(capsys, tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "question": "q"}\n', encoding="utf-8")
    assert main(["eval", "qa", "--docs", str(GOLDEN / "docs"), "--questions", str(tmp_path / "bad.jsonl")]) == 2
    assert "answerable" in capsys.readouterr().err
    assert main(["eval", "retrieval", str(tmp_path / "missing")]) == 2
