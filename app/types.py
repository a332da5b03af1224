"""The words a question's life is described in, as types: what happened to it, why it went to the staff, what it
is about and where it came from — and where an entry of the company vocabulary came from. Each `Literal` has a
tuple of its values beside it for validation and menus.

The query log stores them as plain strings: `QueryRecord` fields are `str`, and the log checks values against
these tuples where they come from outside (`QueryLog.escalate`, `QueryFilter`).
"""

from __future__ import annotations

from typing import Literal, get_args

Outcome = Literal["answered", "escalated"]
"""answered: the bot replied from the documents (a deflected question); escalated: passed to the staff."""

EscalationReason = Literal["low_confidence", "user_request", "not_helpful", "error"]
"""Why a question went to the staff: the bot was not sure; the asker asked for a person; the asker said the
answer did not help; answering failed."""

Category = Literal["attendance", "expense", "supplies", "other"]
"""勤怠 / 経費 / 備品 / その他."""

Origin = Literal["api", "slack", "cli", "eval", "bench"]
"""Where a question came from (the query log's `channel` column, the `/api/ask` field `channel`). Not to be
confused with a Slack channel id, which lives in the Slack metadata of a question (`slack_channel`)."""

TermOrigin = Literal["default", "file", "staff"]
"""Where a company-vocabulary entry (社内用語) comes from: 既定 the default list shipped in app/data/glossary.tsv;
ファイル the deployment's file (MADOGUCHI_GLOSSARY_FILE); 社内 the staff's console page (kept in the chunk store).
Each replaces the one before it for the same word."""

OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
ESCALATION_REASONS: tuple[EscalationReason, ...] = get_args(EscalationReason)
CATEGORY_NAMES: tuple[Category, ...] = get_args(Category)
ORIGINS: tuple[Origin, ...] = get_args(Origin)
TERM_ORIGINS: tuple[TermOrigin, ...] = get_args(TermOrigin)
