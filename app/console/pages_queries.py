"""The query log page: every question with filters (the admin API's), paged, its CSV (the same export as the admin
API; Japanese by default) and one question's detail page."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.api.deps import ServicesDep, download_response
from app.console.session import SessionDep
from app.console.web import error_page, render
from app.errors import MadoguchiError
from app.ops import review
from app.services import Services
from app.store.querylog import QueryFilter, QueryRecord
from app.types import ORIGINS

router = APIRouter(prefix="/queries")
PER_PAGE = 50
FILTERS = ("outcome", "category", "from", "to", "q", "feedback", "resolved", "channel")


def _filter_values(request: Request) -> dict[str, str]:
    p = request.query_params
    return {k: p.get(k, "") for k in FILTERS}


def _filter(services: Services, f: dict[str, str]) -> QueryFilter:
    return review.query_filter(
        services,
        outcome=f["outcome"],
        category=f["category"],
        since=f["from"],
        until=f["to"],
        q=f["q"],
        feedback=f["feedback"],
        resolved=f["resolved"],
        origin=f["channel"],
    )


@router.get("")
async def queries_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    f = _filter_values(request)
    try:
        page = min(review.MAX_PAGE, max(1, int(request.query_params.get("page", "1"))))
    except ValueError:
        page = 1
    try:
        found = await run_in_threadpool(review.page_of, services, _filter(services, f), page=page, per_page=PER_PAGE)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/queries")
    return render(
        request,
        "queries.html",
        session=session,
        nav="queries",
        f=f,
        records=found.records,
        total=found.total,
        page=page,
        pages=found.pages,
        query_string=urlencode({k: v for k, v in f.items() if v}),
        origins=ORIGINS,
    )


@router.get(".csv")
def queries_csv(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    lang = request.query_params.get("lang") or "ja"  # the console hands on Japanese files unless asked otherwise
    try:
        export = review.csv_export(services, _filter(services, _filter_values(request)), lang=lang)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/queries")
    return download_response(export)


def timeline(r: QueryRecord) -> list[tuple]:
    """(time, text key, feedback) of what happened to a question, oldest first."""
    events: list[tuple] = [(r.created_at, "tl_asked", None)]
    if r.escalated_at:
        events.append((r.escalated_at, "tl_escalated", None))
    if r.feedback_at:
        events.append((r.feedback_at, "tl_feedback", r.feedback))
    if r.resolved_at:
        events.append((r.resolved_at, "tl_resolved", None))
    return sorted(events, key=lambda e: e[0])


@router.get("/{query_id}")
async def query_detail(query_id: str, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    try:
        record = await run_in_threadpool(review.get_query, services, query_id)
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console/queries")
    return render(
        request,
        "query_detail.html",
        session=session,
        nav="queries",
        r=record,
        assignee=getattr(record, "assignee", None) or record.meta.get("assignee"),
        events=timeline(record),
    )
