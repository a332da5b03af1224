"""Admin routes for staff accounts (admin accounts and the shared token only): list, add, disable/enable, a new
personal token. The same service as `madoguchi users` and the console's 「スタッフ」 page; every change is audited."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from app.api.deps import AdminOnlyDep, JsonBody, ServicesDep
from app.ops import accounts

router = APIRouter(prefix="/api/admin/users", tags=["admin"])


class UserBody(JsonBody):
    name: str = Field(..., max_length=64)
    role: str = Field("staff", description="staff | admin")
    password: str = Field(..., max_length=1024, description="At least 12 characters (hashed with argon2).")


@router.get("")
async def list_users(services: ServicesDep, _: AdminOnlyDep) -> dict:
    users = await run_in_threadpool(accounts.list_users, services.require_log())
    return {"users": [u.to_dict() for u in users]}


@router.post("", status_code=201)
async def add_user(body: UserBody, services: ServicesDep, actor: AdminOnlyDep) -> dict:
    user = await run_in_threadpool(
        accounts.add_user,
        services.require_log(),
        name=body.name,
        role=body.role,
        password=body.password,
        actor=actor.name,
    )
    return user.to_dict()


@router.post("/{name}/disable")
async def disable_user(name: str, services: ServicesDep, actor: AdminOnlyDep) -> dict:
    user = await run_in_threadpool(accounts.set_disabled, services.require_log(), name, True, actor=actor.name)
    return user.to_dict()


@router.post("/{name}/enable")
async def enable_user(name: str, services: ServicesDep, actor: AdminOnlyDep) -> dict:
    user = await run_in_threadpool(accounts.set_disabled, services.require_log(), name, False, actor=actor.name)
    return user.to_dict()


@router.post("/{name}/token", status_code=201)
async def new_token(name: str, services: ServicesDep, actor: AdminOnlyDep) -> dict:
    """A new personal API token for the account, returned once (only its hash is kept)."""
    token = await run_in_threadpool(accounts.new_token, services.require_log(), name, actor=actor.name)
    return {"name": name, "token": token}
