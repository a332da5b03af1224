"""Proposed wordings: the loop that learns new ways of asking, never silently.

When an answer that came from an FAQ entry is marked 解決した (API feedback or the Slack button), the asker's
wording is queued as a proposal. Staff accept it (it becomes a wording of the entry, matched at once) or reject
it, one click each, in the console or the admin API. A wrong wording would spread a wrong answer, so nothing is
added without that click.
"""

from __future__ import annotations

import logging

from app.ops import faq
from app.services import Services
from app.store.querylog import QueryRecord
from app.store.querylog_proposals import WordingProposal

logger = logging.getLogger(__name__)

FAQ_DOC_PREFIX = "faq:"


def faq_entry_of(record: QueryRecord) -> int | None:
    """The FAQ entry the bot answered `record` from (its first source), or None."""
    if record.outcome != "answered" or not record.sources:
        return None
    doc_id = str(record.sources[0].get("doc_id") or "")
    if not doc_id.startswith(FAQ_DOC_PREFIX):
        return None
    try:
        return int(doc_id[len(FAQ_DOC_PREFIX) :])
    except ValueError:
        return None


def propose_from_feedback(services: Services, record: QueryRecord) -> WordingProposal | None:
    """Called after helpful feedback: queue the asker's wording for the entry that answered it, when it is new."""
    if record.helpful is not True or services.query_log is None:
        return None
    entry_id = faq_entry_of(record)
    if entry_id is None:
        return None
    entry = services.query_log.faq.get(entry_id)
    question = record.question.strip()
    if entry is None or question in {q.strip() for q in entry.questions}:
        return None
    return services.query_log.proposals.propose(entry_id=entry_id, question=question, query_id=record.id)


def record_feedback(services: Services, query_id: str, helpful: bool) -> QueryRecord:
    """Store the feedback, then propose the wording. A failing proposal is logged: the feedback stands."""
    log = services.require_log()
    record = log.set_feedback(query_id, helpful)
    if helpful:
        try:
            propose_from_feedback(services, record)
        except Exception:
            logger.exception("could not propose the wording of query %s", query_id)
    return record


def list_proposals(services: Services, *, status: str | None = "pending") -> list[WordingProposal]:
    return services.require_log().proposals.list(status=status or None)


def accept(services: Services, proposal_id: int, *, by: str | None = None) -> WordingProposal:
    """Accept a pending proposal: the wording joins its entry (searchable at once)."""
    log = services.require_log()
    proposal = log.proposals.require(proposal_id)
    if proposal.status == "pending":
        faq.add_wordings(
            services, proposal.entry_id, [proposal.question], created_by=by, source_query_id=proposal.query_id
        )
    return log.proposals.decide(proposal_id, status="accepted", by=by) if proposal.status == "pending" else proposal


def reject(services: Services, proposal_id: int, *, by: str | None = None) -> WordingProposal:
    log = services.require_log()
    proposal = log.proposals.require(proposal_id)
    return log.proposals.decide(proposal_id, status="rejected", by=by) if proposal.status == "pending" else proposal
