"""The user → department mapping (部署): read from a CSV the staff upload (console or API), listed back, used by
the per-department figures of the stats and the monthly report."""

from __future__ import annotations

import csv
import io

from app.errors import BadRequestError
from app.services import Services
from app.store.departments import DepartmentRow

MAX_ROWS = 100_000
USER_HEADERS = {"user_id", "user", "userid", "ユーザーid", "ユーザー", "社員id", "slack id", "slackid"}


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):  # Excel on Japanese Windows saves CSV as Shift_JIS (cp932)
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadRequestError(
        "The file is neither UTF-8 nor Shift_JIS text.",
        "ファイルが UTF-8 でも Shift_JIS でもありません。CSV（UTF-8）で保存し直してください。",
        code="bad_encoding",
    )


def parse_csv(data: bytes) -> dict[str, str]:
    """`user_id,department` per line (a header line `user_id,department` or `ユーザーID,部署` is skipped).
    Every problem is named with its line number; nothing is kept from a file with one."""
    text = _decode(data)
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # e.g. a field longer than the csv module takes, or a NUL byte
        raise BadRequestError(
            f"The file is not a readable CSV ({exc}). Nothing was changed.",
            f"CSV として読めないファイルです（{exc}）。何も変更していません。",
            code="bad_department_csv",
        ) from exc
    if rows and rows[0] and rows[0][0].strip().lower() in USER_HEADERS:
        rows = rows[1:]
        first_line = 2
    else:
        first_line = 1
    mapping: dict[str, str] = {}
    problems: list[int] = []
    for number, row in enumerate(rows, start=first_line):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if len(cells) < 2 or not cells[0] or not cells[1] or len(cells[0]) > 200 or len(cells[1]) > 200:
            problems.append(number)
            continue
        mapping[cells[0]] = cells[1]
    if problems:
        lines = ", ".join(str(n) for n in problems[:20]) + (" …" if len(problems) > 20 else "")
        raise BadRequestError(
            f"Lines {lines}: each line needs a user id and a department (at most 200 characters each). "
            "Nothing was changed.",
            f"{lines} 行目: 各行にユーザーIDと部署名（それぞれ 200 文字以内）が必要です。何も変更していません。",
            code="bad_department_csv",
        )
    if not mapping:
        raise BadRequestError(
            "The file has no `user_id,department` lines.",
            "ファイルに「ユーザーID,部署」の行がありません。",
            code="empty_department_csv",
        )
    if len(mapping) > MAX_ROWS:
        raise BadRequestError(
            f"Too many users (at most {MAX_ROWS}).",
            f"ユーザーが多すぎます（上限 {MAX_ROWS} 人）。",
            code="too_many_rows",
        )
    return mapping


def replace_from_csv(services: Services, data: bytes, *, by: str | None = None) -> int:
    """Replace the whole mapping with the CSV's; returns the number of users mapped."""
    mapping = parse_csv(data)
    return services.require_log().departments.replace(mapping, by=by)


def list_rows(services: Services) -> list[DepartmentRow]:
    return services.require_log().departments.rows()


def mapping(services: Services) -> dict[str, str]:
    return services.require_log().departments.mapping()
