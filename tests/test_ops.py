"""The service layer (app/ops) without HTTP, in the fast tier: real embedded Chroma and SQLite in tmp_path, Sudachi,
and the deterministic hashing embedder. The HTTP and console tests check the same behaviour through their routes."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timedelta, timezone
from typing import get_args

import pytest

from app.clock import as_utc, zone
from app.errors import BadRequestError, NotFoundError
from app.ops import documents, faq, review
from app.ops.documents import Upload
from app.ops.resolutions import resolve_questions
from app.ops.unresolved import unresolved_groups
from app.types import CATEGORY_NAMES, ESCALATION_REASONS, OUTCOMES, Category, Outcome
from ingest.pipeline import CATEGORIES
from tests.support.querylog import CORPUS, result, write_corpus


@pytest.fixture
def services(fast_services, tmp_path):
    """Services over the tiny corpus, ingested, with an empty query log."""
    docs = tmp_path / "docs"
    write_corpus(docs)
    svc = fast_services(docs_dir=docs)
    svc.ingest(paths=[docs])
    yield svc
    svc.query_log.close()


# --- vocabulary ---
def test_the_literal_vocabularies_match_what_the_code_accepts():
    assert CATEGORY_NAMES == tuple(CATEGORIES) == get_args(Category)
    assert OUTCOMES == get_args(Outcome) == ("answered", "escalated")
    assert "not_helpful" in ESCALATION_REASONS


def test_clock_reads_stored_times_as_utc_and_knows_the_staff_zone(make_settings):
    naive = datetime(2026, 3, 2, 9, 0)
    assert as_utc(naive) == datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    assert as_utc(None) is None
    assert str(zone(make_settings(timezone="Asia/Tokyo"))) == "Asia/Tokyo"


# --- documents ---
def test_upload_refuses_a_batch_with_a_file_it_cannot_take_and_ingests_a_good_one(services):
    good = Upload("備品規程.md", "# 備品規程\n\n## 第1条 申請\nボールペンは総務部に申請する。\n".encode())
    with pytest.raises(BadRequestError) as err:
        documents.upload_and_ingest(services, [good, Upload("macro.exe", b"MZ\x00")])
    assert err.value.code == "unsupported_type" and "macro.exe" in err.value.detail_en
    assert not (services.settings.docs_dir / "備品規程.md").exists()
    report = documents.upload_and_ingest(services, [good, Upload("empty.txt", b"")])
    by_name = {f["doc_id"]: f for f in report["files"]}
    assert by_name["備品規程.md"]["status"] == "added"
    assert report["failed"] == 1
    # the documents page's "last run" (kept in the store for every process): the same report, with time and runner
    assert documents.last_ingest(services) == {k: v for k, v in report.items() if k != "failed"}
    assert report["by"] == "api" and report["at"]
    assert [f["doc_id"] for f in documents.failed_in_last_ingest(services)] == ["empty.txt"]
    listed = documents.list_documents(services)
    assert [r.source for r in listed.documents] == sorted(r.source for r in listed.documents)
    assert "備品規程.md" in {r.doc_id for r in listed.documents} and listed.corpus_version == report["version"]


@pytest.mark.parametrize("name", ["", ".env", "../..", "..\\"])
def test_upload_refuses_bad_names(services, name):
    with pytest.raises(BadRequestError):
        documents.upload_and_ingest(services, [Upload(name, b"# x")])


def test_upload_without_files_is_an_error(services):
    with pytest.raises(BadRequestError) as err:
        documents.upload_and_ingest(services, [])
    assert err.value.code == "no_files"


# --- review: filters, pages, CSV, stats ---
@pytest.fixture
def seeded(services):
    log = services.query_log
    now = datetime.now(timezone.utc)
    rows = [
        result("有給は何日？", channel="slack"),
        result('=HYPERLINK("x")', outcome="escalated", category="other"),
        result("出張の精算は？", category="expense", channel="cli"),
    ]
    for i, r in enumerate(rows):
        log.record(r, created_at=now - timedelta(minutes=i))
    return services, [r.query_id for r in rows]


def test_filters_are_validated_when_built(services):
    with pytest.raises(BadRequestError):
        review.query_filter(services, outcome="maybe")
    with pytest.raises(BadRequestError):
        review.query_filter(services, resolved="perhaps")
    with pytest.raises(BadRequestError):
        review.query_filter(services, category="nothing")
    assert review.query_filter(services, category="勤怠", resolved="yes").category == "attendance"


def test_pages_newest_first_and_by_origin(seeded):
    services, ids = seeded
    page = review.page_of(services, review.query_filter(services), page=1, per_page=2)
    assert [r.id for r in page.records] == ids[:2] and page.total == 3 and page.pages == 2
    assert review.page_of(services, review.query_filter(services), page=2, per_page=2).records[0].id == ids[2]
    only_cli = review.page_of(services, review.query_filter(services, origin="cli"), page=1, per_page=10)
    assert [r.origin for r in only_cli.records] == ["cli"]
    assert only_cli.to_dict()["queries"][0]["channel"] == "cli"  # the public name of the origin


def test_csv_export_is_excel_safe(seeded):
    services, ids = seeded
    export = review.csv_export(services, review.query_filter(services))
    assert export.filename.startswith("madoguchi-queries-") and export.filename.endswith(".csv")
    body = b"".join(export.content).decode("utf-8")
    assert body.startswith("\ufeffid,created_at,channel,")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [r["id"] for r in rows] == ids
    assert rows[1]["question"] == '\'=HYPERLINK("x")'  # never a formula in Excel
    assert rows[0]["channel"] == "slack"


def test_get_query_and_stats(seeded):
    services, ids = seeded
    assert review.get_query(services, ids[0]).question == "有給は何日？"
    with pytest.raises(NotFoundError):
        review.get_query(services, "nope")
    today = datetime.now(zone(services.settings)).date().isoformat()
    stats = review.stats(services, since=today, until=today, bucket="day")
    assert stats["totals"]["questions"] == 3 and stats["totals"]["escalated"] == 1
    assert review.stats(services, since=None, until=None, bucket="day", origin="slack")["totals"]["questions"] == 1
    with pytest.raises(BadRequestError):
        review.stats(services, since="2026-03-02", until="2026-03-01", bucket="day")


# --- FAQ entries ---
def test_faq_entry_is_searchable_at_once_and_the_drift_is_repaired(services):
    entry = faq.create_entry(
        services, question="駐車場の申請は？", answer="総務部の窓口で申請します。", category="その他"
    )
    assert entry.category == "other" and faq.drift_count(services) == 0
    assert any(c.doc_id == entry.doc_id for c in services.index.snapshot.chunks)
    services.store.delete_record(entry.doc_id)  # the chunk store loses its copy (a restore, a reset)
    assert faq.drift_count(services) == 1
    assert faq.sync_index(services) == {"indexed": 1, "removed": 0, "entries": 1}
    faq.delete_entry(services, entry.id)
    assert faq.list_entries(services) == [] and faq.drift_count(services) == 0
    with pytest.raises(BadRequestError):
        faq.create_entry(services, question=" ", answer="a", category=None)


def test_faq_import_updates_by_question_and_the_export_round_trips(services):
    data = "質問,回答,カテゴリ\nA?,a,勤怠\nB?,b,\n,c,\n".encode()
    report = faq.import_file(services, filename="faq.csv", data=data, created_by="test")
    assert (report.created, report.updated, report.errors[0]["row"]) == (2, 0, 4)
    export = faq.export_csv(services)
    assert isinstance(export.content, bytes) and export.filename == "madoguchi-faq.csv"
    again = faq.import_file(services, filename="export.csv", data=export.content, created_by="test")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    with pytest.raises(BadRequestError):
        faq.import_file(services, filename="faq.pdf", data=b"%PDF", created_by="test")


# --- resolutions and the unresolved list ---
def test_resolving_relays_through_every_hook_and_a_failing_hook_only_reports(seeded):
    services, ids = seeded
    seen = []

    def relay(record, text):
        seen.append((record.id, text))
        return True

    async def broken(record, text):
        raise RuntimeError("Slack is down")

    services.resolution_hooks.extend([relay, broken])
    out = asyncio.run(resolve_questions(services, [ids[1]], answer=" 窓口で確認できます。 ", by="test"))
    assert seen == [(ids[1], "窓口で確認できます。")] and out.relayed == 1
    assert out.relay_errors[0]["error"] == "Slack is down"
    assert services.query_log.get(ids[1]).resolution == "窓口で確認できます。"


def test_a_bad_faq_category_leaves_nothing_half_resolved(seeded):
    services, ids = seeded
    with pytest.raises(BadRequestError):
        asyncio.run(resolve_questions(services, [ids[1]], answer="回答", add_to_faq=True, category="nothing"))
    assert services.query_log.get(ids[1]).resolved is False


def test_unresolved_groups_hold_escalated_and_unhelpful_questions_only(seeded):
    services, ids = seeded
    services.query_log.set_feedback(ids[2], False)
    groups = unresolved_groups(services)
    assert sorted(r.id for g in groups for r in g.records) == sorted([ids[1], ids[2]])
    asyncio.run(resolve_questions(services, [ids[1], ids[2]], answer="回答済み"))
    assert unresolved_groups(services) == []


def test_the_tiny_corpus_is_what_the_fixture_ingested(services):
    assert {r.doc_id for r in documents.list_documents(services, kind="doc").documents} == set(CORPUS)
