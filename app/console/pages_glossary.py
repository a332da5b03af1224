"""The 「社内用語」 page: the company vocabulary with each word's origin; the staff add, edit and delete their own
words (a staff word overrides a default or file entry of the same word)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from app.api.deps import ServicesDep
from app.console.session import SessionDep
from app.console.web import csrf_refused, error_page, form_with_csrf, render
from app.errors import MadoguchiError
from app.ops import glossary

router = APIRouter(prefix="/glossary")


@router.get("")
async def glossary_page(
    request: Request, services: ServicesDep, session: SessionDep, q: str | None = None, edit: str | None = None
) -> Response:
    """`edit=<word>` fills the form with that word's entry (to change a staff word or override another)."""
    try:
        terms = await run_in_threadpool(glossary.list_terms, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    editing = next((t for t in terms if edit and t.word == edit), None)
    return render(
        request,
        "glossary.html",
        session=session,
        nav="glossary",
        terms=glossary.matching(terms, q),
        total=len(terms),
        q=q or "",
        editing=editing,
        glossary_file=str(services.settings.glossary_file or ""),
    )


@router.post("")
async def glossary_save(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(
            glossary.set_term,
            services,
            str(form.get("word") or ""),
            str(form.get("formal") or ""),
            actor=session.actor.name,
        )
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/glossary")
    return RedirectResponse("/console/glossary?done=term_saved", status_code=303)


@router.post("/delete")
async def glossary_delete(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        await run_in_threadpool(glossary.delete_term, services, str(form.get("word") or ""), actor=session.actor.name)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/glossary")
    return RedirectResponse("/console/glossary?done=term_deleted", status_code=303)
