"""`api_router`: every HTTP API router, each owning its prefix (the console's router is mounted beside it)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api import (
    adapter,
    ask,
    askers,
    audit,
    documents,
    faq,
    feedback,
    glossary,
    health,
    queries,
    questions,
    reembed,
    report,
    stats,
    users,
)

api_router = APIRouter()
for _module in (
    health,
    ask,
    questions,
    feedback,
    documents,
    queries,
    stats,
    report,
    faq,
    glossary,
    adapter,
    audit,
    users,
    askers,
    reembed,
):
    api_router.include_router(_module.router)
