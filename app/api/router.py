"""`api_router`: every HTTP API router, each owning its prefix (the console's router is mounted beside it)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api import ask, documents, faq, feedback, glossary, health, queries, report, stats

api_router = APIRouter()
for _module in (health, ask, feedback, documents, queries, stats, report, faq, glossary):
    api_router.include_router(_module.router)
