"""FAQ entries as files: CSV (UTF-8 with BOM, or Shift_JIS when read) and XLSX, columns question, answer, category.

Headers are matched like the ingest loader's FAQ sheets (question/質問, answer/回答, category/カテゴリ/分類).
"""

from __future__ import annotations

import csv
import io

from app.errors import BadRequestError, IngestError
from app.ops.downloads import spreadsheet_text, unneutralized
from app.store.querylog_faq import FaqEntry
from ingest.document import LIMITS, check_zip
from ingest.loaders import A_HEADERS, C_HEADERS, Q_HEADERS, decode_text, match_header

COLUMNS = ("question", "answer", "category")
MAX_ROWS = 20000


def _bad(en: str, ja: str) -> BadRequestError:
    return BadRequestError(en, ja, code="bad_faq_file")


def _rows_from_table(table: list[list[str]]) -> list[tuple[int, dict]]:
    """Header row → (row number, {question, answer, category}) for the non-empty rows below it."""
    numbered = [(i + 1, r) for i, r in enumerate(table) if any(c.strip() for c in r)]
    if not numbered:
        raise _bad("The file has no rows.", "ファイルにデータ行がありません。")
    _, header = numbered[0]
    qi = next((i for i, c in enumerate(header) if match_header(c, Q_HEADERS)), None)
    ai = next((i for i, c in enumerate(header) if match_header(c, A_HEADERS)), None)
    ci = next((i for i, c in enumerate(header) if match_header(c, C_HEADERS)), None)
    if qi is None or ai is None:
        raise _bad(
            "The first row must name the columns: question, answer, category.",
            "1 行目に列名（question, answer, category または 質問, 回答, カテゴリ）が必要です。",
        )
    if len(numbered) - 1 > MAX_ROWS:
        raise _bad(f"Too many rows (at most {MAX_ROWS}).", f"行数が多すぎます（{MAX_ROWS} 行まで）。")

    def cell(r: list[str], i: int | None) -> str:
        return unneutralized(r[i].strip()) if i is not None and i < len(r) else ""  # our own export, read back

    return [(n, {"question": cell(r, qi), "answer": cell(r, ai), "category": cell(r, ci)}) for n, r in numbered[1:]]


def read_faq_file(filename: str, data: bytes) -> list[tuple[int, dict]]:
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        return _rows_from_table(_xlsx_table(data))
    if name.endswith((".csv", ".txt")):
        try:
            text = decode_text(data)
        except IngestError as exc:
            raise _bad(exc.detail_en, exc.detail_ja) from exc
        return _rows_from_table([list(r) for r in csv.reader(io.StringIO(text))])
    raise _bad("Upload a .csv or .xlsx file.", ".csv か .xlsx ファイルをアップロードしてください。")


def _xlsx_table(data: bytes) -> list[list[str]]:
    import openpyxl  # deferred like the ingest loader's: only .xlsx files need it

    try:  # the ingest's zip-bomb check first (central directory only): nothing is inflated past its limits
        check_zip(io.BytesIO(data), LIMITS, kind="Excel")
    except IngestError as exc:
        raise _bad(exc.detail_en, exc.detail_ja) from exc
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
        raise _bad(
            f"The Excel file is corrupt or not an .xlsx: {exc}",
            f"Excel ファイルが壊れているか .xlsx ではありません: {exc}",
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        table: list[list[str]] = []
        for row in sheet.iter_rows(values_only=True):  # lazily, stopped past the row limit (the header is row 1)
            if len(table) > MAX_ROWS:
                raise _bad(f"Too many rows (at most {MAX_ROWS}).", f"行数が多すぎます（{MAX_ROWS} 行まで）。")
            table.append(["" if v is None else str(v) for v in row])
        return table
    finally:
        workbook.close()


def faq_csv(entries: list[FaqEntry]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow([spreadsheet_text(v) for v in (e.question, e.answer, e.category)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def faq_xlsx(entries: list[FaqEntry]) -> bytes:
    import openpyxl  # deferred: only the .xlsx export needs it
    from openpyxl.styles import Alignment, Font

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "FAQ"
    ws.append(list(COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for e in entries:
        ws.append([e.question, e.answer, e.category])
        for cell in ws[ws.max_row]:
            cell.data_type = "s"  # text such as "=1+1" stays text, never a formula
    ws.column_dimensions["A"].width = 50
    ws.column_dimensions["B"].width = 80
    ws.column_dimensions["C"].width = 14
    for row in ws.iter_rows(min_row=2):
        for cell in row[:2]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
