"""「スタッフ」 (admins only): the staff accounts — add, reset a password, disable and enable; and 「アカウント」, where
anyone signed in with an account changes their own password. Every change is recorded in the audit trail by
app/ops/accounts.py."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from app.api.deps import ServicesDep
from app.console.session import SessionDep
from app.console.web import admin_only, csrf_refused, error_page, form_with_csrf, render
from app.errors import BadRequestError, MadoguchiError
from app.ops import accounts

router = APIRouter()


@router.get("/users")
async def users_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    try:
        users = await run_in_threadpool(accounts.list_users, services.require_log())
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    return render(request, "users.html", session=session, nav="users", users=users)


@router.post("/users")
async def user_add(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(
            accounts.add_user,
            services.require_log(),
            name=str(form.get("name") or ""),
            role=str(form.get("role") or ""),
            password=str(form.get("password") or ""),
            actor=session.actor.name,
        )
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/users")
    return RedirectResponse("/console/users?done=user_added", status_code=303)


@router.post("/users/{name}/password")
async def user_password(request: Request, name: str, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(
            accounts.set_password,
            services.require_log(),
            name,
            str(form.get("password") or ""),
            actor=session.actor.name,
        )
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/users")
    # Resetting one's own password ends one's own session too: back to the login page.
    target = "/console/login" if name == session.actor.name else "/console/users?done=password_reset"
    return RedirectResponse(target, status_code=303)


@router.post("/users/{name}/role")
async def user_role(request: Request, name: str, services: ServicesDep, session: SessionDep) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(
            accounts.set_role, services.require_log(), name, str(form.get("role") or ""), actor=session.actor.name
        )
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/users")
    return RedirectResponse("/console/users?done=user_updated", status_code=303)


@router.post("/users/{name}/disable")
async def user_disable(request: Request, name: str, services: ServicesDep, session: SessionDep) -> Response:
    return await _set_disabled(request, name, services, session, disabled=True)


@router.post("/users/{name}/enable")
async def user_enable(request: Request, name: str, services: ServicesDep, session: SessionDep) -> Response:
    return await _set_disabled(request, name, services, session, disabled=False)


async def _set_disabled(request: Request, name: str, services, session, *, disabled: bool) -> Response:
    if (denied := admin_only(request, session)) is not None:
        return denied
    if await form_with_csrf(request, session) is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(accounts.set_disabled, services.require_log(), name, disabled, actor=session.actor.name)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/users")
    return RedirectResponse("/console/users?done=user_updated", status_code=303)


@router.get("/account")
async def account_page(request: Request, session: SessionDep) -> Response:
    return render(request, "account.html", session=session, nav="account")


@router.post("/account/password")
async def account_password(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    """Change one's own password: every session of the account ends, so back to the login page."""
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        new = str(form.get("password") or "")
        if new != str(form.get("password2") or ""):
            raise BadRequestError(
                "The new passwords differ.", "新しいパスワードが一致しません。", code="password_mismatch"
            )
        await run_in_threadpool(
            accounts.change_own_password,
            services.require_log(),
            session.actor,
            current=str(form.get("current") or ""),
            new=new,
        )
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/account")
    return RedirectResponse("/console/login?done=password_changed", status_code=303)
