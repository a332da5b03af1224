"""「未解決の質問」 pages: unresolved questions grouped by meaning, and a group's answer form.

The URLs keep their first name (`/console/gaps`) so bookmarks and links in old messages still work."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from app.api.deps import ServicesDep
from app.console.session import SessionDep
from app.console.web import csrf_refused, error_page, form_with_csrf, render
from app.errors import MadoguchiError
from app.ops.resolutions import resolve_questions
from app.ops.unresolved import find_group, unresolved_groups

router = APIRouter(prefix="/gaps")


@router.get("")
async def unresolved_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    try:
        groups = await run_in_threadpool(unresolved_groups, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    return render(request, "unresolved.html", session=session, nav="unresolved", groups=groups)


@router.get("/{key}")
async def group_page(request: Request, key: str, services: ServicesDep, session: SessionDep) -> Response:
    try:
        groups = await run_in_threadpool(unresolved_groups, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/gaps")
    return render(request, "unresolved_group.html", session=session, nav="unresolved", group=find_group(groups, key))


@router.post("/{key}/resolve")
async def resolve_group(request: Request, key: str, services: ServicesDep, session: SessionDep) -> Response:
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    ids = [v for v in form.getlist("query_id") if isinstance(v, str) and v]
    source, _, section = str(form.get("cite") or "").partition("||")
    try:
        out = await resolve_questions(
            services,
            ids,
            answer=str(form.get("answer") or ""),
            by=session.actor.name,
            actor=session.actor.name,
            add_to_faq=form.get("add_to_faq") == "1",
            faq_question=str(form.get("faq_question") or "").strip() or None,
            category=str(form.get("category") or "") or None,
            cite={"source": source, "section": section} if source else None,
        )
    except MadoguchiError as exc:
        return error_page(request, session, exc, back=f"/console/gaps/{key}")
    query = {
        "done": "resolved",
        "n": len(out.records),
        "relayed": out.relayed,
        "failed": len(out.relay_errors),
        "faq": int(out.faq is not None),
    }
    return RedirectResponse(f"/console/gaps?{urlencode(query)}", status_code=303)
