"""The ingest road (ingest/pipeline.py through Services.ingest): incremental and exact re-ingest, update, prune,
the bad-file zoo, and atomicity — the index never serves a mix of two versions of a document.

Every test builds its own store (make_services) on its own copies of the files it changes."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import threading
import time
from pathlib import Path

import pytest

from app.answer import answer
from app.retrieval.index import CorpusIndex
from ingest.chunker import chunk_document
from ingest.loaders import load

MANUALS = Path(__file__).resolve().parents[1] / "examples" / "manuals"

TOPICS = ["休暇", "出張", "備品", "残業", "在宅勤務", "研修", "名刺", "慶弔"]


def rules_text(version: str, articles: int, days: int) -> str:
    """A small regulation whose every sentence names its version (旧版 / 新版)."""
    lines = ["申請手続規程", ""]
    for i, topic in enumerate(TOPICS[:articles], start=1):
        lines += [
            f"第{i}条（{topic}の申請）",
            f"{version}の定めにより、{topic}の申請は{days}日前までに行う。{version}では{topic}の承認者は所属長とする。",
            "",
        ]
    return "\n".join(lines)


def chunks_of(services, doc_id: str) -> dict:
    return services.store.chunks.get(where={"doc_id": doc_id}, include=["metadatas", "documents"])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def statuses(report) -> dict[str, str]:
    return {f.doc_id: f.status for f in report.files}


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "申請手続規程.txt").write_text(rules_text("旧版", 6, 3), encoding="utf-8")
    (folder / "guide.md").write_text(
        "---\ntitle: Visitor guide\ncategory: other\n---\n# Visitor guide\n\n## Reception\n\n"
        "Visitors sign in at the reception desk on the first floor and wear a guest badge.\n",
        encoding="utf-8",
    )
    return folder


# ------------------------------------------------------------------------------------------ incremental


def test_reingest_of_unchanged_files_skips_them_and_writes_only_the_run_record(make_services, docs):
    """No chunk, manifest record or corpus version is written; only the record of the run itself (what the documents
    page shows as the last ingest, for every process) is."""
    services = make_services(with_log=False)
    first = services.ingest(paths=[docs])
    assert statuses(first) == {"申請手続規程.txt": "added", "guide.md": "added"}
    assert first.version == 1
    before_chunks = services.store.chunks.get(include=["metadatas"])
    before_manifest = services.store.manifest()
    before_corpus = services.store.corpus_info()
    (docs / "guide.md").touch()  # a newer mtime with the same bytes is not a change

    second = services.ingest(paths=[docs])

    assert statuses(second) == {"申請手続規程.txt": "unchanged", "guide.md": "unchanged"}
    assert second.version == 1, "nothing changed, so the corpus version stays"
    assert services.store.corpus_info() == before_corpus
    assert services.store.manifest() == before_manifest, "the manifest records (ingested_at included) are untouched"
    after_chunks = services.store.chunks.get(include=["metadatas"])
    assert after_chunks["ids"] == before_chunks["ids"] and after_chunks["metadatas"] == before_chunks["metadatas"]
    assert services.store.last_ingest()["counts"] == {"unchanged": 2}
    assert services.index.refresh() is False
    counts = second.to_dict()["counts"]
    assert counts == {"unchanged": 2} and second.to_dict()["chunks"] == 0


def test_a_changed_file_replaces_all_its_old_chunks_and_a_running_index_follows(make_services, tmp_path):
    folder = tmp_path / "manuals"
    folder.mkdir()
    path = folder / "備品管理規程.txt"
    shutil.copy(MANUALS / "備品管理規程.txt", path)
    shutil.copy(MANUALS / "慶弔見舞金規程.md", folder / "慶弔見舞金規程.md")
    services = make_services(with_log=False)
    services.ingest(paths=[folder])
    reader = CorpusIndex(services.store)  # another reader of the same store, like a second server replica
    reader.refresh()
    old_hash = sha(path)
    old_ids = set(chunks_of(services, "備品管理規程.txt")["ids"])
    other_before = chunks_of(services, "慶弔見舞金規程.md")["ids"]

    # The new edition moves the shelf and drops chapter 4 (the document gets shorter).
    text = path.read_bytes().decode("cp932")
    assert "本社3階の総務部前" in text and "第4章" in text
    new_text = text.replace("本社3階の総務部前", "本社5階の受付横").split("第4章")[0]
    path.write_bytes(new_text.encode("cp932"))
    new_hash = sha(path)
    expected = chunk_document(load(path))

    report = services.ingest(paths=[folder])

    assert statuses(report) == {"備品管理規程.txt": "updated", "慶弔見舞金規程.md": "unchanged"}
    got = chunks_of(services, "備品管理規程.txt")
    assert len(got["ids"]) == len(expected) == services.store.manifest()["備品管理規程.txt"].chunks
    assert len(got["ids"]) < len(old_ids)
    assert not old_ids & set(got["ids"]), "no chunk of the old edition is left in Chroma"
    assert {m["doc_hash"] for m in got["metadatas"]} == {new_hash} != {old_hash}
    assert not any("本社3階の総務部前" in d for d in got["documents"])
    assert any("本社5階の受付横" in d for d in got["documents"])
    assert not any("第4章" in m["section"] for m in got["metadatas"])
    assert chunks_of(services, "慶弔見舞金規程.md")["ids"] == other_before, "the other document was not touched"

    # The serving index of this process and another reader's background refresh both see the new edition only.
    for index in (services.index, reader):
        if index is reader:
            reader.poll()
        texts = [c.text for c in index.snapshot.chunks if c.doc_id == "備品管理規程.txt"]
        assert len(texts) == len(expected)
        assert not any("本社3階" in t for t in texts) and any("本社5階の受付横" in t for t in texts)
        assert index.snapshot.version == report.version
    result = answer(question="ボールペンはどこで頼めばいいですか？", services=services, record=False)
    top = result.sources[0]
    assert top.section == "備品管理規程 > 第2章 消耗品 > 第4条（消耗品の利用）"
    assert "本社5階の受付横" in top.snippet
    assert "本社3階" not in result.answer + "".join(s.snippet for s in result.sources)


def test_prune_removes_documents_whose_files_are_gone(make_services, docs):
    services = make_services(with_log=False)
    services.ingest(paths=[docs])
    (docs / "guide.md").unlink()

    kept = services.ingest(paths=[docs])
    assert statuses(kept) == {"申請手続規程.txt": "unchanged"}, "without prune a missing file is left alone"
    assert chunks_of(services, "guide.md")["ids"]

    pruned = services.ingest(paths=[docs], prune=True)
    assert statuses(pruned) == {"申請手続規程.txt": "unchanged", "guide.md": "removed"}
    assert pruned.version == kept.version + 1
    assert chunks_of(services, "guide.md")["ids"] == []
    assert "guide.md" not in services.store.manifest()
    assert not [c for c in services.index.snapshot.chunks if c.doc_id == "guide.md"]
    result = answer(question="Where do visitors sign in?", services=services, record=False)
    assert all(s.source != "guide.md" for s in result.sources)
    assert "reception desk" not in result.answer


def test_a_file_that_turns_bad_takes_its_old_version_with_it(make_services, docs):
    """An old version is never quoted: a file that now fails leaves no chunk behind, until it is fixed."""
    services = make_services(with_log=False)
    services.ingest(paths=[docs])
    rules = docs / "申請手続規程.txt"
    rules.write_bytes(b"\x00\x01\x02 broken \x00" * 50)

    report = services.ingest(paths=[docs])

    assert statuses(report)["申請手続規程.txt"] == "failed"
    assert chunks_of(services, "申請手続規程.txt")["ids"] == []
    record = services.store.manifest()["申請手続規程.txt"]
    assert record.status == "failed" and "binary" in record.error and record.chunks == 0
    result = answer(question="休暇の申請は何日前までに行いますか？", services=services, record=False)
    assert "旧版" not in result.answer + "".join(s.snippet for s in result.sources)
    assert result.outcome == "escalated"

    rules.write_text(rules_text("新版", 6, 5), encoding="utf-8")
    fixed = services.ingest(paths=[docs])
    assert statuses(fixed)["申請手続規程.txt"] == "updated"
    assert services.store.manifest()["申請手続規程.txt"].status == "ok"
    # the new edition is what is quoted (at threshold 0: whether 0.75 answers is the calibration's business)
    result = answer(question="休暇の申請は何日前までに行いますか？", services=services, threshold=0.0, record=False)
    assert result.outcome == "answered" and "新版" in result.answer and "5日前" in result.answer


def test_a_missing_path_fails_with_a_reason(make_services, tmp_path):
    services = make_services(with_log=False)
    report = services.ingest(paths=[tmp_path / "nowhere.pdf"])
    [f] = report.files
    assert f.status == "failed" and "not found" in f.error and "見つかりません" in f.error_ja
    assert services.store.manifest() == {}, "nothing is recorded for a path that never existed"


# ------------------------------------------------------------------------------------------ bad-file zoo


def _zoo(folder: Path) -> dict[str, tuple[str, str]]:
    """Bad files, each with (a phrase of the English reason, a phrase of the Japanese one)."""
    from pypdf import PdfWriter

    w = PdfWriter()
    w.append(str(MANUALS / "勤怠管理規程.pdf"))
    w.encrypt(user_password="secret", owner_password="owner")
    w.write(folder / "encrypted.pdf")
    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    w.write(folder / "scanned.pdf")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage\n%%EOF\n")
    (folder / "truncated.pdf").write_bytes((MANUALS / "勤怠管理規程.pdf").read_bytes()[:4000])
    (folder / "empty.md").write_bytes(b"")
    (folder / "blank.txt").write_bytes(b" \r\n\t\n")
    (folder / "archive.txt").write_bytes(gzip.compress("第1条 圧縮されたテキスト。".encode() * 20))
    (folder / "latin1.txt").write_bytes("第1条 規程。".encode("utf-8")[:-2] + b"\x85\x40 \xff\xfe caf\xe9 \xfd")
    (folder / "corrupt.docx").write_bytes(b"PK\x03\x04 this is not really a zip file")
    (folder / "renamed.xlsx").write_bytes("質問,回答\nこれはCSVです,xlsxではない\n".encode())
    return {
        "encrypted.pdf": ("password-protected", "パスワード"),
        "scanned.pdf": ("No text could be extracted", "テキストを抽出できません"),
        "corrupt.pdf": ("PDF is corrupt", "PDF が壊れている"),
        "truncated.pdf": ("PDF is corrupt", "PDF が壊れている"),
        "empty.md": ("empty", "空です"),
        "blank.txt": ("empty", "空です"),
        "archive.txt": ("binary", "バイナリ"),
        "latin1.txt": ("neither UTF-8 nor Shift_JIS", "UTF-8 でも Shift_JIS"),
        "corrupt.docx": ("Word file is corrupt", "Word ファイルが壊れている"),
        "renamed.xlsx": ("Excel file is corrupt", "Excel ファイルが壊れている"),
    }


def test_bad_file_zoo_each_fails_alone_with_a_clear_reason(make_services, docs):
    bad = _zoo(docs)
    (docs / "slides.pptx").write_bytes(b"PK\x03\x04")  # not a supported type: not picked up from a folder
    (docs / "~$申請手続規程.docx").write_bytes(b"lock")  # an Office lock file
    (docs / ".hidden.md").write_text("# hidden\n\nsecret\n", encoding="utf-8")
    services = make_services(with_log=False)

    report = services.ingest(paths=[docs])

    got = {f.doc_id: f for f in report.files}
    assert set(got) == set(bad) | {"申請手続規程.txt", "guide.md"}
    assert got["申請手続規程.txt"].status == "added" and got["guide.md"].status == "added"
    assert len(report.failed) == len(bad)
    for name, (en, ja) in bad.items():
        f = got[name]
        assert f.status == "failed", name
        assert en in f.error, f"{name}: {f.error}"
        assert ja in f.error_ja, f"{name}: {f.error_ja}"
        assert chunks_of(services, name)["ids"] == []
    manifest = services.store.manifest()
    assert {d for d, r in manifest.items() if r.status == "failed"} == set(bad)
    assert all(manifest[d].error for d in bad)
    assert {c.doc_id for c in services.index.snapshot.chunks} == {"申請手続規程.txt", "guide.md"}
    result = answer(question="休暇の申請は何日前までに行いますか？", services=services, record=False)
    assert result.outcome == "answered" and result.sources[0].source == "申請手続規程.txt"

    again = services.ingest(paths=[docs])  # failed files are tried again; the good ones are skipped
    assert {f.doc_id: f.status for f in again.files} == {
        **{n: "failed" for n in bad},
        "申請手続規程.txt": "unchanged",
        "guide.md": "unchanged",
    }


# ------------------------------------------------------------------------------------------ atomicity


def test_the_index_never_serves_a_mix_of_two_versions_while_ingesting(make_services, docs):
    """Ingest alternating editions in one thread, answer in another, reload the index (as a server's background
    refresher does) in a third: every answer and every snapshot holds exactly one complete edition."""
    rules = docs / "申請手続規程.txt"
    editions = {
        "旧版": rules_text("旧版", 6, 3),
        "新版": rules_text("新版", 7, 5),  # one more article: a partial edition would show in the chunk count
    }
    sizes = {}
    for name, text in editions.items():
        rules.write_text(text, encoding="utf-8")
        sizes[sha(rules)[:16]] = len(chunk_document(load(rules)))
    assert sorted(sizes.values()) == [6, 7]
    rules.write_text(editions["旧版"], encoding="utf-8")
    services = make_services(with_log=False)
    services.ingest(paths=[docs])

    done = threading.Event()
    problems: list[str] = []
    seen_versions: set[str] = set()
    answers = 0
    snapshots = 0

    def writer():
        try:
            for round_ in range(6):
                name = "新版" if round_ % 2 == 0 else "旧版"
                rules.write_text(editions[name], encoding="utf-8")
                report = services.ingest(paths=[docs])
                if statuses(report)["申請手続規程.txt"] != "updated":
                    problems.append(f"round {round_}: {report.to_dict()}")
        finally:
            done.set()

    def asker():
        nonlocal answers
        while not done.is_set():
            result = answer(question="休暇の申請は何日前までに行いますか？", services=services, record=False)
            text = result.answer + "\n".join(s.snippet for s in result.sources)
            versions = {v for v in editions if v in text}
            seen_versions.update(versions)
            if len(versions) > 1:
                problems.append(f"an answer mixes two editions: {text!r}")
            if ("旧版" in result.answer and "5日前" in result.answer) or (
                "新版" in result.answer and "3日前" in result.answer
            ):
                problems.append(f"an answer mixes two editions: {result.answer!r}")
            answers += 1

    def refresher():
        nonlocal snapshots
        while not done.is_set():
            services.index.poll()
            snap = services.index.snapshot
            mine = [c for c in snap.chunks if c.doc_id == "申請手続規程.txt"]
            hashes = {c.id.rsplit("#", 2)[1] for c in mine}
            if len(hashes) != 1:
                problems.append(f"snapshot {snap.version} holds {len(hashes)} editions of the document")
            elif len(mine) != sizes[hashes.pop()]:
                problems.append(f"snapshot {snap.version} holds a partial edition ({len(mine)} chunks)")
            snapshots += 1
            time.sleep(0.01)

    threads = [threading.Thread(target=f) for f in (writer, asker, refresher)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not any(t.is_alive() for t in threads)
    assert not problems, problems[:5]
    assert answers >= 3 and snapshots >= 3
    assert seen_versions == {"旧版", "新版"}, "the asker saw both editions over time"
    # After the last round (旧版), Chroma and the index hold exactly that edition.
    final = chunks_of(services, "申請手続規程.txt")
    assert {m["doc_hash"] for m in final["metadatas"]} == {sha(rules)}
    assert len(final["ids"]) == 6 and all("旧版" in d for d in final["documents"])


def test_concurrent_ingests_are_serialized_and_end_consistent(make_services, docs):
    services = make_services(with_log=False)
    rules = docs / "申請手続規程.txt"
    rules.write_text(rules_text("新版", 7, 5), encoding="utf-8")
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(services.ingest(paths=[docs]))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(reports) == 3
    added = [r for r in reports if statuses(r)["申請手続規程.txt"] == "added"]
    assert len(added) == 1, "exactly one run wrote the document; the others found it unchanged"
    assert sorted(r.version for r in reports) == [1, 1, 1]
    got = chunks_of(services, "申請手続規程.txt")
    assert len(got["ids"]) == 7 and len(set(got["ids"])) == 7
