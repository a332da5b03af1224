"""`POST /api/ask`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from app.answer import answer
from app.api.deps import JsonBody, ServicesDep
from app.ops import ratelimit

router = APIRouter(prefix="/api", tags=["ask"])


class AskRequest(JsonBody):
    question: str = Field(..., description="The employee's question (Japanese or English), 1–2,000 characters.")
    category: str | None = Field(
        None, description="Optional filter: attendance | expense | supplies | other (or 勤怠 / 経費 / 備品 / その他)."
    )
    user_id: str | None = Field(None, max_length=200)
    # The question's origin (app.types.Origin), not a Slack channel; the public field keeps its name `channel`.
    origin: str | None = Field(
        None, alias="channel", max_length=50, description="Where the question came from (api, slack, cli, …)."
    )


@router.post("/ask")
async def ask(body: AskRequest, request: Request, services: ServicesDep) -> dict:
    """Answer a question. The reply carries `follow_up_token`, a secret for this question alone: with it,
    `GET /api/questions/{query_id}` returns the status and the staff's answer once the question was escalated.
    One asker (`user_id`, else the client address) gets MADOGUCHI_RATE_LIMIT_PER_MINUTE
    questions a minute; more are a 429 with `Retry-After`."""
    ratelimit.admit(services.ask_limits, user_id=body.user_id, client=request.client.host if request.client else None)
    services.index.raise_if_unavailable()
    result = await run_in_threadpool(
        answer,
        question=body.question,
        services=services,
        category=body.category,
        user_id=body.user_id,
        origin=body.origin or "api",
    )
    return result.to_api()
