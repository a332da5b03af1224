"""Japanese names of the shared vocabulary (app/types.py) for files the staff hand on: the Japanese CSV of the
query log and the monthly Excel report. The console keeps its own words in app/console/i18n.py; these match them."""

from __future__ import annotations

CATEGORY_JA: dict[str, str] = {"attendance": "勤怠", "expense": "経費", "supplies": "備品", "other": "その他"}
OUTCOME_JA: dict[str, str] = {"answered": "回答済み", "escalated": "エスカレーション"}
REASON_JA: dict[str, str] = {
    "low_confidence": "確信度が低い",
    "user_request": "担当者を希望",
    "not_helpful": "役に立たなかった",
    "error": "エラー",
}
FEEDBACK_JA: dict[str, str] = {"helpful": "役に立った", "not_helpful": "役に立たなかった", "none": "なし"}
ORIGIN_JA: dict[str, str] = {"api": "API", "slack": "Slack", "cli": "コマンド", "eval": "評価", "bench": "計測"}
LANGUAGE_JA: dict[str, str] = {"ja": "日本語", "en": "英語"}
NO_DEPARTMENT_JA = "未設定"


def category_ja(category: str | None) -> str:
    return CATEGORY_JA.get(category or "other", category or "")
