"""A file the staff download (query log CSV, FAQ CSV/XLSX): its name, media type and content, free of HTTP types.
The API and the console turn it into a response with `app.api.deps.download_response`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    content: bytes | Iterator[bytes]  # bytes, or chunks produced while sending (a large query log)
