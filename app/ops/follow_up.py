"""The asker's side of an escalation, for channels that cannot be written to (the HTTP API): `POST /api/ask`
hands out a `follow_up_token` per question, and whoever holds it reads the question's status and the staff's
answer (`GET /api/questions/{query_id}`). The log keeps only the token's SHA-256.

A wrong token and an unknown question are the same 404, and take the same path: the hash is always compared
(constant time), against a stand-in when the question does not exist or has no token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from app.errors import NotFoundError
from app.services import Services
from app.store.querylog import QueryRecord, follow_up_hash

FollowUpStatus = Literal["waiting", "answered", "resolved_by_bot"]
_NO_HASH = "0" * 64  # compared against when there is nothing to compare: same work, never equal to a real hash


@dataclass
class QuestionStatus:
    query_id: str
    status: FollowUpStatus
    staff_answer: str | None
    answered_at: datetime | None
    assignee: str | None

    def to_dict(self) -> dict:
        return {
            "query_id": self.query_id,
            "status": self.status,
            "staff_answer": self.staff_answer,
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
            "assignee": self.assignee,
        }


def status_of(record: QueryRecord) -> FollowUpStatus:
    """answered: the staff answered; waiting: with the staff (escalated, or the bot's answer did not help) and not
    answered yet; resolved_by_bot: the bot answered and nobody asked for more."""
    if record.resolved_at is not None:
        return "answered"
    if record.outcome == "escalated" or record.helpful is False:
        return "waiting"
    return "resolved_by_bot"


def _not_found() -> NotFoundError:
    return NotFoundError(
        "No question with this id and follow-up token. Send the `follow_up_token` that `POST /api/ask` returned "
        "in the X-Follow-Up-Token header.",
        "この ID と確認用トークンの質問はありません。`POST /api/ask` が返した `follow_up_token` を "
        "X-Follow-Up-Token ヘッダーに付けてください。",
        code="question_not_found",
    )


def question_status(services: Services, *, query_id: str, token: str | None) -> QuestionStatus:
    """The status of one question for the holder of its token; NotFoundError (404) otherwise."""
    log = services.require_log()
    stored = log.follow_up_hash_of(query_id) if query_id and len(query_id) <= 64 else None
    given = follow_up_hash(token or "")
    matches = hmac.compare_digest((stored or _NO_HASH).encode("ascii"), given.encode("ascii"))
    if not (matches and stored and token):
        raise _not_found()
    record = log.get(query_id)
    if record is None:  # deleted between the two reads
        raise _not_found()
    return QuestionStatus(
        query_id=record.id,
        status=status_of(record),
        staff_answer=record.resolution,
        answered_at=record.resolved_at,
        assignee=record.assignee,
    )
