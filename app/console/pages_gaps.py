"""Console pages over the query log: 「未解決の質問」 (grouped FAQ gaps, answer form) and the query log list."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, StreamingResponse

from app.api.deps import ServicesDep
from app.console.clusters import cluster, find_group, unresolved
from app.console.session import SessionDep
from app.console.web import csrf_refused, error_page, form_with_csrf, render, zone
from app.errors import MadoguchiError
from app.faq import require_log, resolve_questions

router = APIRouter()
PER_PAGE = 50


def _groups(services):
    log = require_log(services)
    return cluster(unresolved(log), embedder=services.embedder)


@router.get("/gaps")
async def gaps(request: Request, services: ServicesDep, session: SessionDep):
    try:
        groups = await run_in_threadpool(_groups, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    return render(request, "gaps.html", session=session, nav="gaps", groups=groups)


@router.get("/gaps/{key}")
async def gap_detail(request: Request, key: str, services: ServicesDep, session: SessionDep):
    try:
        groups = await run_in_threadpool(_groups, services)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/gaps")
    return render(request, "gap_detail.html", session=session, nav="gaps", group=find_group(groups, key))


@router.post("/gaps/{key}/resolve")
async def gap_resolve(request: Request, key: str, services: ServicesDep, session: SessionDep):
    form = await form_with_csrf(request, session)
    if form is None:
        return csrf_refused(request, session)
    ids = [v for v in form.getlist("query_id") if isinstance(v, str) and v]
    try:
        out = await resolve_questions(
            services, ids, answer=str(form.get("answer") or ""), by="console", add_to_faq=form.get("add_to_faq") == "1",
            faq_question=str(form.get("faq_question") or "").strip() or None, category=str(form.get("category") or "") or None,
        )
    except MadoguchiError as exc:
        return error_page(request, session, exc, back=f"/console/gaps/{key}")
    query = {"done": "resolved", "n": len(out.records), "relayed": out.relayed, "failed": len(out.relay_errors), "faq": int(out.faq is not None)}
    return RedirectResponse(f"/console/gaps?{urlencode(query)}", status_code=303)


def _filter_params(request: Request) -> dict:
    p = request.query_params
    return {k: p.get(k, "") for k in ("outcome", "category", "from", "to", "q")}


@router.get("/queries")
async def queries_page(request: Request, services: ServicesDep, session: SessionDep):
    from app.api.queries import build_filter

    f = _filter_params(request)
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    try:
        log = require_log(services)
        flt = build_filter(services, outcome=f["outcome"], category=f["category"], since=f["from"], until=f["to"], q=f["q"])
        total = await run_in_threadpool(log.count, flt)
        records = await run_in_threadpool(log.search, flt, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/queries")
    return render(request, "queries.html", session=session, nav="queries", f=f, records=records, total=total, page=page,
                  pages=max(1, math.ceil(total / PER_PAGE)), query_string=urlencode({k: v for k, v in f.items() if v}))


@router.get("/queries.csv")
def queries_csv(request: Request, services: ServicesDep, session: SessionDep):
    from datetime import datetime

    from app.api.queries import build_filter, csv_lines

    f = _filter_params(request)
    log = require_log(services)
    flt = build_filter(services, outcome=f["outcome"], category=f["category"], since=f["from"], until=f["to"], q=f["q"])
    stamp = datetime.now(zone(request)).strftime("%Y%m%d-%H%M")
    return StreamingResponse(csv_lines(log, flt, zone(request)), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="madoguchi-queries-{stamp}.csv"'})
