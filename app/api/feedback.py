"""`POST /api/feedback`: an employee marks an answer helpful or not (the latest click wins)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from app.api.deps import JsonBody, ServicesDep
from app.ops import ratelimit

router = APIRouter(prefix="/api", tags=["feedback"])


class FeedbackRequest(JsonBody):
    query_id: str = Field(..., min_length=1, max_length=64, description="The `query_id` returned by /api/ask.")
    helpful: bool = Field(..., description="true = the answer helped; false = it did not.")


@router.post("/feedback")
async def feedback(body: FeedbackRequest, request: Request, services: ServicesDep) -> dict:
    """Record 👍/👎. One client gets MADOGUCHI_RATE_LIMIT_PER_MINUTE clicks a minute; more are a 429."""
    ratelimit.admit_feedback(services.feedback_limits, client=request.client.host if request.client else None)
    log = services.require_log()
    record = await run_in_threadpool(log.set_feedback, body.query_id, body.helpful)
    return {"query_id": record.id, "helpful": record.helpful, "feedback": record.feedback}
