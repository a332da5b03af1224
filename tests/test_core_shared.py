"""Ingest + ask over a handbook nobody here wrote: ../shared/corpora/ja-tuqulore-handbook with questions from
../shared/eval/ja-tuqulore-qa.jsonl (skipped, with the reason, when ../shared is not beside the checkout).

The questions are a representative handful (five regulations; travel, wages, leave, sickness, resignation,
supplies, benefits; colloquial wording) that the system answers from the right article today; the full set is
measured by the evaluation harness, not asserted here."""

from __future__ import annotations

import json
import re

import pytest

from app.answer import answer

CORPUS = "corpora/ja-tuqulore-handbook"
QUESTIONS = "eval/ja-tuqulore-qa.jsonl"
PICKED = ["tq-001", "tq-003", "tq-007", "tq-023", "tq-027", "tq-042", "tq-058", "tq-070"]


def article_of(section: str) -> str:
    m = re.match(r"(第[0-9]+条(?:の[0-9]+)?)", section.split(" > ")[-1])
    return m.group(1) if m else ""


@pytest.fixture(scope="module")
def handbook(shared_dir, tmp_path_factory, embedder, tokenizer, request):
    from app.services import build_services
    from app.settings import Settings
    from tests.servers import server_overrides

    data = tmp_path_factory.mktemp("tuqulore")
    settings = Settings(
        _env_file=None, data_dir=data, docs_dir=shared_dir / CORPUS, **server_overrides(request.config, data)
    )
    services = build_services(settings, embedder=embedder, tokenizer=tokenizer, with_log=False)
    report = services.ingest(paths=[shared_dir / CORPUS])
    return services, report


def golden(shared_dir) -> dict[str, dict]:
    with open(shared_dir / QUESTIONS, encoding="utf-8") as fh:
        return {row["id"]: row for row in map(json.loads, fh)}


def test_every_file_of_the_handbook_ingests(handbook, shared_dir):
    services, report = handbook
    files = sorted(p.name for p in (shared_dir / CORPUS).glob("*.md"))
    assert sorted(f.doc_id for f in report.files) == files
    assert not report.failed, [(f.doc_id, f.error) for f in report.failed]
    manifest = services.store.manifest()
    assert all(manifest[name].status == "ok" and manifest[name].chunks >= 1 for name in files)
    assert manifest["01_就業規則.md"].category == "attendance"
    assert manifest["02_賃金規程.md"].category == "expense"


def test_a_link_only_file_ingests_as_a_pointer(handbook, shared_dir):
    services, report = handbook
    name = "06_育児介護休業規程.md"
    text = (shared_dir / CORPUS / name).read_text(encoding="utf-8")
    url = re.search(r"https://\S+", text).group(0)
    [result] = [f for f in report.files if f.doc_id == name]
    assert result.status == "added" and result.chunks == 1
    chunks = [c for c in services.index.snapshot.chunks if c.doc_id == name]
    assert len(chunks) == 1
    assert chunks[0].title == "育児介護休業規程"
    assert url in chunks[0].text, "the link is kept so the answer can point to it"


@pytest.mark.parametrize("qid", PICKED)
def test_the_right_article_is_among_the_top_three_sources(handbook, shared_dir, qid):
    services, _ = handbook
    row = golden(shared_dir)[qid]
    assert row["answerable"] and row["source"]
    wanted = row["section"] if isinstance(row["section"], list) else [row["section"]]
    result = answer(question=row["question"], services=services, record=False)
    top3 = [(s.source, article_of(s.section)) for s in result.sources[:3]]
    assert any(src == row["source"] and art in wanted for src, art in top3), f"{qid} {row['question']}: {top3}"
    assert result.language == "ja"
    assert 0.0 <= result.confidence <= 1.0
