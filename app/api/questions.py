"""`GET /api/questions/{query_id}`: the asker fetches the status and the staff's answer with the question's
follow-up token (returned by `POST /api/ask`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from app.api.deps import ServicesDep
from app.ops.follow_up import FollowUpStatus, question_status

router = APIRouter(prefix="/api", tags=["ask"])


class QuestionStatusOut(BaseModel):
    query_id: str = Field(..., description="The `query_id` returned by `POST /api/ask`.")
    status: FollowUpStatus = Field(
        ...,
        description="`waiting`: with the staff, not answered yet; `answered`: the staff answered (`staff_answer`); "
        "`resolved_by_bot`: the bot's answer stands and nobody asked for more.",
    )
    staff_answer: str | None = Field(None, description="The staff's answer, once there is one.")
    answered_at: datetime | None = Field(None, description="When the staff answered (UTC).")
    assignee: str | None = Field(None, description="The staff member handling the question, once someone took it.")


class ErrorOut(BaseModel):
    error: str
    detail: str
    detail_en: str


@router.get(
    "/questions/{query_id}",
    response_model=QuestionStatusOut,
    responses={
        404: {"model": ErrorOut, "description": "No question with this id and token (the two are not told apart)."}
    },
)
async def get_question(
    query_id: str,
    services: ServicesDep,
    x_follow_up_token: Annotated[
        str | None,
        Header(description="The `follow_up_token` that `POST /api/ask` returned with this question.", max_length=200),
    ] = None,
) -> QuestionStatusOut:
    """The question's status and the staff's answer, for the holder of its follow-up token. A wrong token and an
    unknown id are the same 404 `question_not_found`."""
    found = await run_in_threadpool(question_status, services, query_id=query_id, token=x_follow_up_token)
    return QuestionStatusOut(**found.to_dict())
