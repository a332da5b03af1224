"""Admin routes over the query log: the list with filters, the CSV export, one question, resolving it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field

from app.api.deps import AdminDep, JsonBody, ServicesDep, download_response
from app.ops import review
from app.ops.resolutions import resolve_questions
from app.store.querylog import QueryFilter

router = APIRouter(prefix="/api/admin/queries", tags=["admin"])


def _filter(
    services: ServicesDep,
    outcome: str | None = None,
    category: str | None = None,
    from_: str | None = Query(None, alias="from"),
    to: str | None = None,
    q: str | None = None,
    feedback: str | None = None,
    resolved: str | None = None,
    origin: str | None = Query(None, alias="channel"),  # `?channel=` is the question's origin (api, slack, cli, …)
) -> QueryFilter:
    """The filters shared by the list and the CSV, validated by the review service."""
    return review.query_filter(
        services,
        outcome=outcome,
        category=category,
        since=from_,
        until=to,
        q=q,
        feedback=feedback,
        resolved=resolved,
        origin=origin,
    )


FilterDep = Annotated[QueryFilter, Depends(_filter)]


@router.get("")
async def list_queries(
    services: ServicesDep,
    _: AdminDep,
    flt: FilterDep,
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=500),
) -> dict:
    found = await run_in_threadpool(review.page_of, services, flt, page=page, per_page=per_page)
    return found.to_dict()


@router.get(".csv")
def queries_csv(
    services: ServicesDep,
    _: AdminDep,
    flt: FilterDep,
    lang: str | None = Query(None, description="ja: Japanese headers and values, Excel dates; en (default): codes"),
) -> Response:
    return download_response(review.csv_export(services, flt, lang=lang))


@router.get("/{query_id}")
async def get_query(query_id: str, services: ServicesDep, _: AdminDep) -> dict:
    record = await run_in_threadpool(review.get_query, services, query_id)
    return record.to_dict()


class Cite(JsonBody):
    source: str = Field(..., min_length=1, max_length=500, description="Document source name (or doc id).")
    section: str | None = Field(None, max_length=500, description="Section / article heading within it.")


class ResolveRequest(JsonBody):
    answer: str = Field(..., min_length=1, max_length=20000, description="The staff's answer, relayed to the asker.")
    add_to_faq: bool = Field(False, description="Also save the question and this answer as an FAQ entry.")
    faq_question: str | None = Field(
        None, max_length=2000, description="Question text of the FAQ entry (default: the asked question)."
    )
    category: str | None = Field(None, description="Category of the FAQ entry (default: the question's).")
    by: str | None = Field(None, max_length=200, description="Who answered (shown in the log).")
    cite: Cite | None = Field(
        None,
        description="The article the answer rests on (one of the bot's sources, or any indexed document): shown to "
        "the asker with the answer and used to train the query adapter (`madoguchi adapt`).",
    )


@router.post("/{query_id}/resolve")
async def resolve(query_id: str, body: ResolveRequest, services: ServicesDep, actor: AdminDep) -> dict:
    out = await resolve_questions(
        services,
        [query_id],
        answer=body.answer,
        by=body.by or actor.name,
        add_to_faq=body.add_to_faq,
        faq_question=body.faq_question,
        category=body.category,
        cite=body.cite.model_dump() if body.cite else None,
        actor=actor.name,
    )
    data = out.to_dict()
    data["query"] = data["queries"][0]
    return data
