"""The monthly report as an Excel workbook (openpyxl): sheets 概要, カテゴリ別, 部署別, 未解決トップ and 推移, Japanese
headers, dates and times as real Excel dates in the staff's time zone, rates as percentages, 円 as numbers, and a
chart on 推移 (questions as bars, 自己解決率 as a line on a second axis)."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from app.labels import NO_DEPARTMENT_JA, category_ja
from app.ops.downloads import XLSX_TYPE, Export, spreadsheet_text

SHEETS = ("概要", "カテゴリ別", "部署別", "未解決トップ", "推移")
PCT = "0.0%"
YEN = '#,##0"円"'
HOURS = '0.0"時間"'
MINUTES = '0.0"分"'
DATE = "yyyy/mm/dd"
DATETIME = "yyyy/mm/dd hh:mm"
MONTH = 'yyyy"年"m"月"'
HEAD_FILL = PatternFill("solid", fgColor="DDE6F0")

# (header, key in a figures dict, number format, transform)
FIGURE_COLUMNS: list[tuple[str, str, str | None]] = [
    ("質問数", "questions", None),
    ("自動回答", "answered", None),
    ("エスカレーション", "escalated", None),
    ("自己解決数", "self_resolved", None),
    ("自己解決率", "self_resolution_rate", PCT),
    ("役に立った率", "helpful_rate", PCT),
    ("削減できた対応時間", "staff_hours_saved", HOURS),
    ("削減コスト", "staff_cost_saved_yen", YEN),
    ("スタッフ回答数", "staff_answered", None),
    ("応答時間（中央値）", "response_minutes_median", MINUTES),
    ("応答時間（90パーセンタイル）", "response_minutes_p90", MINUTES),
]


def _local(iso: str, tz: ZoneInfo) -> datetime:
    """An ISO time → a naive datetime in the staff's zone (Excel has no time zones)."""
    return datetime.fromisoformat(iso).astimezone(tz).replace(tzinfo=None)


def _value(figures: dict, key: str):
    if key == "staff_hours_saved":
        return round(figures["staff_minutes_saved"] / 60, 2)
    return figures.get(key)


def _header(ws: Worksheet, headers: list[str], widths: list[int]) -> None:
    ws.append(headers)
    for i, cell in enumerate(ws[ws.max_row], start=1):
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[cell.column_letter].width = widths[i - 1] if i <= len(widths) else 14
    ws.freeze_panes = f"A{ws.max_row + 1}"


def _figure_row(ws: Worksheet, label, figures: dict, *, label_format: str | None = None) -> None:
    ws.append([label, *(_value(figures, key) for _, key, _ in FIGURE_COLUMNS)])
    row = ws[ws.max_row]
    if label_format:
        row[0].number_format = label_format
    for cell, (_, _, fmt) in zip(row[1:], FIGURE_COLUMNS, strict=True):
        if fmt:
            cell.number_format = fmt


def _summary(ws: Worksheet, report: dict, tz: ZoneInfo) -> None:
    totals = report["totals"]
    first = date.fromisoformat(report["month"] + "-01")
    ws.append(["窓口 月次レポート"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    _header(ws, ["項目", "値", "説明"], [30, 18, 70])
    minutes = report["minutes_per_inquiry"]
    rows: list[tuple[str, object, str | None, str]] = [
        ("対象月", first, MONTH, f"{report['timezone']} の暦月"),
        ("質問数", totals["questions"], None, "この月に受けた質問"),
        ("自動回答", totals["answered"], None, "ボットが回答した質問"),
        ("エスカレーション", totals["escalated"], None, "担当者に回した質問"),
        ("自己解決数", totals["self_resolved"], None, "自動回答のうち「役に立たなかった」以外"),
        (
            "自己解決率",
            totals["self_resolution_rate"],
            PCT,
            "自己解決数 ÷ 質問数（「役に立たなかった」回答は含めない）",
        ),
        ("役に立った率", totals["helpful_rate"], PCT, "評価のうち「役に立った」の割合"),
        ("削減できた対応時間", _value(totals, "staff_hours_saved"), HOURS, f"自己解決数 × 1件あたり {minutes:g} 分"),
        (
            "削減コスト",
            totals["staff_cost_saved_yen"],
            YEN,
            f"削減できた対応時間 × 時給 {report['hourly_cost_yen']:,.0f} 円",
        ),
        ("スタッフ回答数", totals["staff_answered"], None, "担当者が回答した質問"),
        ("応答時間（中央値）", totals["response_minutes_median"], MINUTES, "エスカレーションから担当者の回答まで"),
        ("応答時間（90パーセンタイル）", totals["response_minutes_p90"], MINUTES, "9割の質問がこの時間内に回答された"),
        ("1件あたりの対応時間", minutes, MINUTES, "設定 MADOGUCHI_MINUTES_PER_INQUIRY"),
        ("スタッフの時給", report["hourly_cost_yen"], YEN, "設定 MADOGUCHI_STAFF_HOURLY_COST_YEN"),
        ("作成日時", _local(report["generated_at"], tz), DATETIME, ""),
    ]
    for label, value, fmt, note in rows:
        ws.append([label, value, note])
        if fmt:
            ws.cell(row=ws.max_row, column=2).number_format = fmt


def _breakdown(ws: Worksheet, first_header: str, items: list[tuple[str, dict]]) -> None:
    _header(ws, [first_header, *(h for h, _, _ in FIGURE_COLUMNS)], [18] + [14] * len(FIGURE_COLUMNS))
    for label, figures in items:
        _figure_row(ws, label, figures)


def _unresolved(ws: Worksheet, report: dict, tz: ZoneInfo) -> None:
    headers = ["順位", "質問", "件数", "カテゴリ", "最初の質問日時", "最新の質問日時", "同じ内容の質問（例）"]
    _header(ws, headers, [6, 50, 8, 10, 18, 18, 60])
    for rank, g in enumerate(report["unresolved_top"], start=1):
        ws.append(
            [
                rank,
                spreadsheet_text(g["question"]),
                g["count"],
                category_ja(g["category"]),
                _local(g["first_at"], tz),
                _local(g["last_at"], tz),
                spreadsheet_text(" / ".join(g.get("examples", []))),
            ]
        )
        ws.cell(row=ws.max_row, column=5).number_format = DATETIME
        ws.cell(row=ws.max_row, column=6).number_format = DATETIME
    if not report["unresolved_top"]:
        ws.append(["", "この月の未解決の質問はありません。"])


def _trend(ws: Worksheet, report: dict) -> None:
    _header(ws, ["月", *(h for h, _, _ in FIGURE_COLUMNS)], [12] + [14] * len(FIGURE_COLUMNS))
    for b in report["trend"]:
        _figure_row(ws, date.fromisoformat(b["start"]), b, label_format=MONTH)
    n = len(report["trend"])
    if not n:
        return
    cats = Reference(ws, min_col=1, min_row=2, max_row=n + 1)
    bars = BarChart()
    bars.type = "col"
    bars.title = "質問数と自己解決率の推移"
    bars.y_axis.title = "件数"
    bars.add_data(Reference(ws, min_col=2, max_col=3, min_row=1, max_row=n + 1), titles_from_data=True)
    bars.set_categories(cats)
    bars.x_axis.number_format = MONTH
    line = LineChart()
    line.add_data(Reference(ws, min_col=6, min_row=1, max_row=n + 1), titles_from_data=True)
    line.y_axis.axId = 200
    line.y_axis.title = "自己解決率"
    line.y_axis.number_format = "0%"
    line.y_axis.scaling.min = 0
    line.y_axis.scaling.max = 1
    line.y_axis.crosses = "max"
    for axis in (bars.x_axis, bars.y_axis, line.y_axis):
        axis.delete = False  # openpyxl 3.1 hides chart axes unless told otherwise
    bars += line
    bars.width, bars.height = 24, 11
    ws.add_chart(bars, f"A{n + 4}")


def workbook_bytes(report: dict) -> bytes:
    tz = ZoneInfo(report["timezone"])
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = SHEETS[0]
    _summary(summary, report, tz)
    cats = sorted(report["categories"].items(), key=lambda kv: -kv[1]["questions"])
    _breakdown(wb.create_sheet(SHEETS[1]), "カテゴリ", [(category_ja(c), f) for c, f in cats])
    depts = sorted(report["departments"].items(), key=lambda kv: -kv[1]["questions"])
    _breakdown(
        wb.create_sheet(SHEETS[2]), "部署", [(spreadsheet_text(d) if d else NO_DEPARTMENT_JA, f) for d, f in depts]
    )
    _unresolved(wb.create_sheet(SHEETS[3]), report, tz)
    _trend(wb.create_sheet(SHEETS[4]), report)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def report_export(report: dict) -> Export:
    return Export(
        filename=f"madoguchi-report-{report['month']}.xlsx", media_type=XLSX_TYPE, content=workbook_bytes(report)
    )
