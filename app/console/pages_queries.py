"""The query log page: every question with filters, paged, and its CSV (the same export as the admin API)."""

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
from app.store.querylog import QueryFilter

router = APIRouter(prefix="/queries")
PER_PAGE = 50
FILTERS = ("outcome", "category", "from", "to", "q")


def _filter_values(request: Request) -> dict[str, str]:
    p = request.query_params
    return {k: p.get(k, "") for k in FILTERS}


def _filter(services: Services, f: dict[str, str]) -> QueryFilter:
    return review.query_filter(
        services, outcome=f["outcome"], category=f["category"], since=f["from"], until=f["to"], q=f["q"]
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
    )


@router.get(".csv")
def queries_csv(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return download_response(review.csv_export(services, _filter(services, _filter_values(request))))
