"""Admin routes for the company vocabulary (社内用語): the list with each word's origin, and the staff's entries
(add or change with PUT, DELETE). A saved entry takes effect at once on every replica."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from app.api.deps import AdminDep, JsonBody, ServicesDep
from app.ops import glossary

router = APIRouter(prefix="/api/admin/glossary", tags=["admin", "glossary"])


class TermBody(JsonBody):
    # Checked by the service (app/ops/glossary.py), which says what is wrong in the asker's language.
    formal: str = Field(..., description="The regulations' terms for the word, separated by spaces (≤ 200 characters).")


@router.get("")
async def list_terms(services: ServicesDep, _: AdminDep, q: str | None = None) -> dict:
    """Every word in force with its formal terms and origin (default | file | staff; `overrides` names the origin of
    the entry a staff or file entry replaces)."""
    terms = await run_in_threadpool(glossary.list_terms, services, q=q)
    return {"terms": [t.to_dict() for t in terms], "total": len(terms)}


@router.put("/{word:path}")
async def set_term(word: str, body: TermBody, services: ServicesDep, actor: AdminDep) -> dict:
    term = await run_in_threadpool(glossary.set_term, services, word, body.formal, actor=actor.name)
    return term.to_dict()


@router.delete("/{word:path}")
async def delete_term(word: str, services: ServicesDep, actor: AdminDep) -> dict:
    term = await run_in_threadpool(glossary.delete_term, services, word, actor=actor.name)
    return {"deleted": term.to_dict()}
