"""`DELETE /api/admin/askers/{user_id}` (bearer token): a data-subject request — the asker's questions, answers,
feedback and Slack metadata leave the query log; the monthly counts keep them. Returns `{"deleted": n}`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from app.api.deps import AdminDep, ServicesDep, has_lone_surrogate
from app.errors import BadRequestError
from app.ops import retention

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.delete("/askers/{user_id:path}")  # any id a client logged, slashes included
async def forget_asker(user_id: str, services: ServicesDep, _: AdminDep) -> dict:
    if has_lone_surrogate(user_id):
        raise BadRequestError(
            "The user id is not valid text.", "ユーザー ID が正しい文字列ではありません。", code="bad_user_id"
        )
    return {"deleted": await run_in_threadpool(retention.forget_asker, services, user_id)}
