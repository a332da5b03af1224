"""Documents: upload files into the docs folder and ingest them, ingest given paths or the configured folder, the
document list, and the last ingest of this process (including uploads refused before ingesting)."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from app.errors import BadRequestError
from app.services import Services
from app.store.chroma import DocRecord
from ingest.loaders import SUPPORTED

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_NAME_BYTES = 255


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


def _refused(name: str, en: str, ja: str) -> dict:
    """A file refused before ingesting, in the shape of an ingest report's file entry."""
    return {"path": name, "doc_id": name, "status": "failed", "error": en, "error_ja": ja}


def save_uploads(services: Services, uploads: list[Upload]) -> list[dict]:
    """Write the acceptable uploads into the docs folder; returns the refused ones (unsupported type, too large)."""
    if not uploads:
        raise BadRequestError(
            "No files in the upload (use the form field `files`).",
            "アップロードにファイルがありません（フォーム項目 `files`）。",
            code="no_files",
        )
    docs_dir = services.settings.docs_dir
    docs_dir.mkdir(parents=True, exist_ok=True)
    refused: list[dict] = []
    supported = ", ".join(sorted(SUPPORTED))
    for up in uploads:
        name = safe_name(up.filename)
        if Path(name).suffix.lower() not in SUPPORTED:
            refused.append(
                _refused(
                    name,
                    f"Unsupported file type; supported: {supported}",
                    f"対応していないファイル形式です。対応形式: {supported}",
                )
            )
        elif len(up.data) > MAX_UPLOAD_BYTES:
            refused.append(_refused(name, "File over 50 MB.", "50MB を超えるファイルです。"))
        else:
            (docs_dir / name).write_bytes(up.data)
    return refused


def ingest(
    services: Services, *, paths: list[Path] | None = None, prune: bool = False, refused: list[dict] | None = None
) -> dict:
    """Ingest `paths` (default: the docs folder) and return the report as JSON data, with the `refused` uploads
    among its files and counted in `failed`. The report is also this process's `last_ingest`."""
    report = services.ingest(paths=paths or [services.settings.docs_dir], prune=prune)
    data = report.to_dict()
    data["files"].extend(refused or [])
    data["failed"] = len(report.failed) + len(refused or [])
    services.last_ingest = data
    return data


def upload_and_ingest(services: Services, uploads: list[Upload], *, prune: bool = False) -> dict:
    """Save the uploads into the docs folder and ingest the folder (`POST /api/admin/ingest` with files, the
    console's upload form)."""
    refused = save_uploads(services, uploads)
    return ingest(services, prune=prune, refused=refused)


def list_documents(services: Services, *, kind: str | None = None) -> DocumentList:
    """The manifest sorted by source (`kind`: only "doc" or only "faq" entries)."""
    records = [r for r in services.store.manifest().values() if kind is None or r.kind == kind]
    snapshot = services.index.snapshot
    return DocumentList(
        documents=sorted(records, key=lambda r: r.source),
        corpus_version=snapshot.version if snapshot else None,
        last_ingest=services.last_ingest,
    )


def failed_in_last_ingest(services: Services) -> list[dict]:
    """Files of this process's last ingest that failed (including refused uploads)."""
    return [f for f in (services.last_ingest or {}).get("files", []) if f.get("status") == "failed"]
