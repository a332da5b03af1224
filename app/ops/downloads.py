"""A file the staff download (query log CSV, FAQ CSV/XLSX): its name, media type and content, free of HTTP types.
The API and the console turn it into a response with `app.api.deps.download_response`. Every CSV cell goes through
`spreadsheet_text`, so text an employee typed never runs as a formula in Excel."""

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


# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice and Google Sheets; the
# full-width forms count because spreadsheet apps with Japanese input normalize them (＝ → =).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def spreadsheet_text(value: object) -> str:
    """Text as a spreadsheet should show it: a leading `'` on a cell that would start a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unneutralized(text: str) -> str:
    """`spreadsheet_text` undone, for a file the staff export, edit and import again."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
