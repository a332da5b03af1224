"""Documents: upload files into the docs folder and ingest them, ingest given paths or the configured folder, the
document list, the last ingest (of any process: the store keeps it), and one document in place: delete, replace,
re-ingest."""

from __future__ import annotations

import logging
import os
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.errors import BadRequestError, ForbiddenError, IngestError, NotFoundError
from app.ops.audit import record_audit
from app.services import Services
from app.store.chroma import DocRecord
from ingest.loaders import SUPPORTED
from ingest.pipeline import remove_document

logger = logging.getLogger(__name__)

MAX_NAME_BYTES = 255
MAX_UPLOAD_FILES = 200


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the browser sent and its bytes."""

    filename: str | None
    data: bytes


@dataclass
class DocumentList:
    documents: list[DocRecord]
    corpus_version: int | None
    last_ingest: dict | None

    def to_dict(self) -> dict:
        return {
            "documents": [
                {
                    "doc_id": r.doc_id,
                    "title": r.title,
                    "source": r.source,
                    "category": r.category,
                    "chunks": r.chunks,
                    "hash": r.hash,
                    "ingested_at": r.ingested_at,
                    "status": r.status,
                    "error": r.error,
                    "kind": r.kind,
                }
                for r in self.documents
            ],
            "corpus_version": self.corpus_version,
            "last_ingest": self.last_ingest,
        }


def safe_name(name: str | None) -> str:
    """The file name without any folder part, in NFC (one spelling per name, whatever the browser's OS sent);
    refuses empty, hidden, `..`, undecodable and over-long names (a file system takes 255 bytes per name)."""
    base = unicodedata.normalize("NFC", Path((name or "").replace("\\", "/")).name)
    try:
        size = len(base.encode("utf-8"))
    except UnicodeEncodeError:
        size = -1
    if not base or base.startswith(".") or base in ("..",) or size < 0 or "\x00" in base:
        raise BadRequestError(f"Bad file name {name!r}.", f"ファイル名が不正です: {name!r}", code="bad_filename")
    if size > MAX_NAME_BYTES:
        shown = base[:40] + "…"
        raise BadRequestError(
            f"File name too long: {shown} ({size} bytes in UTF-8; at most {MAX_NAME_BYTES}, about 85 Japanese "
            "characters). Rename the file and upload it again.",
            f"ファイル名が長すぎます: {shown}（UTF-8 で {size} バイト。上限は {MAX_NAME_BYTES} バイト、日本語でおよそ 85 文字）。"
            "名前を短くしてからアップロードしてください。",
            code="filename_too_long",
        )
    return base


def _refusal(name: str, code: str, en: str, ja: str) -> BadRequestError:
    return BadRequestError(f"{name}: {en}", f"{name}: {ja}", code=code)


def check_uploads(uploads: list[Upload], *, max_file_bytes: int) -> list[tuple[str, bytes]]:
    """Every upload checked before any is written: (safe name, bytes) pairs, or one 422 naming every refused file
    (a bad or over-long name, an unsupported type, a file over `max_file_bytes`, two files of one name)."""
    if not uploads:
        raise BadRequestError(
            "No files in the upload (use the form field `files`).",
            "アップロードにファイルがありません（フォーム項目 `files`）。",
            code="no_files",
        )
    if len(uploads) > MAX_UPLOAD_FILES:
        raise BadRequestError(
            f"Too many files in one upload ({len(uploads)}; at most {MAX_UPLOAD_FILES}). Nothing was saved.",
            f"一度にアップロードできるファイルは {MAX_UPLOAD_FILES} 個までです（{len(uploads)} 個）。何も保存していません。",
            code="too_many_files",
        )
    supported = ", ".join(sorted(SUPPORTED))
    accepted: list[tuple[str, bytes]] = []
    problems: list[BadRequestError] = []
    seen: set[str] = set()
    for up in uploads:
        try:
            name = safe_name(up.filename)
        except BadRequestError as exc:
            problems.append(exc)
            continue
        if Path(name).suffix.lower() not in SUPPORTED:
            problems.append(
                _refusal(
                    name,
                    "unsupported_type",
                    f"Unsupported file type; supported: {supported}.",
                    f"対応していないファイル形式です。対応形式: {supported}",
                )
            )
        elif len(up.data) > max_file_bytes:
            size = f"{max_file_bytes / (1024 * 1024):g} MiB"
            problems.append(_refusal(name, "file_too_large", f"File over {size}.", f"{size} を超えるファイルです。"))
        elif name in seen:
            problems.append(
                _refusal(
                    name,
                    "duplicate_name",
                    "Two files of this name in one upload.",
                    "同じ名前のファイルが 2 つあります。",
                )
            )
        else:
            seen.add(name)
            accepted.append((name, up.data))
    if problems:
        codes = {p.code for p in problems}
        raise BadRequestError(
            "Upload refused; nothing was saved or ingested. " + " ".join(p.detail_en for p in problems),
            "アップロードを受け付けませんでした（何も保存・取り込みしていません）。"
            + " ".join(p.detail_ja for p in problems),
            code=codes.pop() if len(codes) == 1 else "upload_refused",
        )
    return accepted


def save_uploads(services: Services, uploads: list[Upload]) -> list[str]:
    """Check every upload, then write them all into the docs folder (each first under a hidden temporary name, which
    no ingest picks up, then renamed), or none: a write error removes what this call wrote. Returns the names."""
    accepted = check_uploads(uploads, max_file_bytes=services.settings.max_upload_bytes)
    docs_dir = services.settings.docs_dir
    docs_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, data in accepted:
            temp = docs_dir / f".upload-{uuid.uuid4().hex}.part"
            staged.append((temp, docs_dir / name))
            temp.write_bytes(data)
    except OSError as exc:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        failed = staged[-1][1].name
        logger.error("upload: could not write %s: %s", failed, exc)
        raise IngestError(
            f"Could not save {failed}: {exc.strerror or exc}. Nothing of this upload was saved.",
            f"{failed} を保存できませんでした（{exc.strerror or exc}）。このアップロードのファイルは何も保存していません。",
            code="upload_write_failed",
        ) from exc
    for temp, final in staged:
        os.replace(temp, final)
    return [name for name, _ in accepted]


def paths_in_docs_dir(services: Services, raw: list[str]) -> list[Path]:
    """The server-side paths an admin asked to ingest, each inside MADOGUCHI_DOCS_DIR (relative ones are taken from
    it); anything else on the server is refused (403) — what is ingested is served to every employee."""
    docs_dir = Path(services.settings.docs_dir).resolve()
    out: list[Path] = []
    for text in raw:
        if not text.strip() or "\x00" in text:
            raise BadRequestError(f"Bad path {text!r}.", f"パスが不正です: {text!r}", code="bad_paths")
        path = (docs_dir / text).resolve()  # an absolute `text` replaces docs_dir; `..` and symlinks are resolved
        if path != docs_dir and docs_dir not in path.parents:
            raise ForbiddenError(
                f"Only files and folders inside the docs folder (MADOGUCHI_DOCS_DIR) can be ingested by path: {text}. "
                "Upload the file instead, or copy it into the docs folder.",
                f"パス指定で取り込めるのは文書フォルダ（MADOGUCHI_DOCS_DIR）内のファイルとフォルダだけです: {text}。"
                "ファイルをアップロードするか、文書フォルダにコピーしてください。",
                code="path_outside_docs_dir",
            )
        out.append(path)
    return out


def ingest(services: Services, *, paths: list[Path] | None = None, prune: bool = False, by: str = "api") -> dict:
    """Ingest `paths` (default: the docs folder) and return the report as JSON data (kept in the store as the last
    ingest, with its time and `by`)."""
    services.ingest(paths=paths or [services.settings.docs_dir], prune=prune, by=by)
    data = dict(services.last_ingest or {})
    data["failed"] = data.get("counts", {}).get("failed", 0)  # the one count of failures: the report's
    return data


def upload_and_ingest(
    services: Services, uploads: list[Upload], *, prune: bool = False, actor: str | None = None, by: str = "api"
) -> dict:
    """Save the uploads into the docs folder and ingest the folder (`POST /api/admin/ingest` with files, the
    console's upload form). A batch with any unacceptable file is refused whole, before anything is written.
    Each saved file is recorded in the audit trail as `document.upload` (with its ingest result)."""
    names = save_uploads(services, uploads)
    report = ingest(services, prune=prune, by=by)
    results = {f.get("doc_id"): f for f in report.get("files", [])}
    for name in names:
        found = results.get(name, {})
        record_audit(
            services,
            actor=actor,
            action="document.upload",
            target_type="document",
            target_id=name,
            after={"status": found.get("status"), "chunks": found.get("chunks")},
        )
    return report


def last_ingest(services: Services) -> dict | None:
    """The last ingest into the store by any process (CLI, API, console), else this process's."""
    return services.store.last_ingest() or services.last_ingest


def _document(services: Services, doc_id: str) -> DocRecord:
    record = services.store.manifest().get(doc_id)
    if record is None or record.kind != "doc":
        raise NotFoundError(
            f"No document {doc_id!r} (FAQ entries are edited on the FAQ page).",
            f"文書 {doc_id!r} はありません（FAQ は FAQ のページで編集します）。",
            code="document_not_found",
        )
    return record


def _file_of(services: Services, doc_id: str) -> Path | None:
    """The document's file in the docs folder, if it lives there (never a path outside the folder)."""
    root = services.settings.docs_dir.resolve()
    path = (root / doc_id).resolve()
    return path if path.is_relative_to(root) and path != root and path.is_file() else None


def delete_document(services: Services, doc_id: str, *, by: str = "api") -> dict:
    """Remove a document's chunks and record at once, bump the corpus version (every replica drops it on its next
    refresh) and delete its file from the docs folder, so a later re-ingest does not bring it back."""
    with services.ingest_lock:
        record = _document(services, doc_id)
        remove_document(store=services.store, doc_id=doc_id)
        version = services.store.bump_version(embedder=services.embedder.name)
        path = _file_of(services, doc_id)
        if path is not None:
            path.unlink()
    services.index.refresh()
    logger.info("document %s deleted by %s (file removed: %s)", doc_id, by, path is not None)
    record_audit(
        services,
        actor=by,
        action="document.delete",
        target_type="document",
        target_id=doc_id,
        before={"title": record.title, "chunks": record.chunks},
        after={"file_removed": path is not None},
    )
    return {"deleted": doc_id, "title": record.title, "file_removed": path is not None, "corpus_version": version}


def reingest_document(services: Services, doc_id: str, *, by: str = "api") -> dict:
    """Index one document again from its file even when it did not change."""
    record = _document(services, doc_id)
    path = _file_of(services, doc_id)
    if path is None:
        raise NotFoundError(
            f"The file of {doc_id!r} is not in the documents folder.",
            f"{doc_id!r} のファイルが文書フォルダにありません。",
            code="document_file_missing",
        )
    record.schema = -1  # an index schema no ingest writes: the pipeline indexes it again
    services.store.put_record(record)
    # A top-level file is ingested alone; one in a subfolder needs the folder for its id (unchanged files are skipped).
    return ingest(services, paths=[path] if "/" not in doc_id else None, by=by)


def replace_document(services: Services, doc_id: str, upload: Upload, *, by: str = "api") -> dict:
    """Upload over a document: the new file takes the document's name (and id) in the docs folder, then ingest."""
    _document(services, doc_id)
    name = Path(doc_id).name
    if Path(upload.filename or "").suffix.lower() != Path(name).suffix.lower():
        raise BadRequestError(
            f"The replacement must be a {Path(name).suffix} file like {name}.",
            f"差し替えるファイルは {name} と同じ形式（{Path(name).suffix}）にしてください。",
            code="replace_type_mismatch",
        )
    accepted = check_uploads(
        [Upload(filename=name, data=upload.data)], max_file_bytes=services.settings.max_upload_bytes
    )
    target = services.settings.docs_dir / doc_id
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".upload-{uuid.uuid4().hex}.part"
    temp.write_bytes(accepted[0][1])
    os.replace(temp, target)
    return ingest(services, paths=[target] if "/" not in doc_id else None, by=by)


def list_documents(services: Services, *, kind: str | None = None) -> DocumentList:
    """The manifest sorted by source (`kind`: only "doc" or only "faq" entries)."""
    records = [r for r in services.store.manifest().values() if kind is None or r.kind == kind]
    snapshot = services.index.snapshot
    return DocumentList(
        documents=sorted(records, key=lambda r: r.source),
        corpus_version=snapshot.version if snapshot else None,
        last_ingest=last_ingest(services),
    )


def failed_in_last_ingest(services: Services) -> list[dict]:
    """Files of the last ingest that failed."""
    return [f for f in (last_ingest(services) or {}).get("files", []) if f.get("status") == "failed"]
