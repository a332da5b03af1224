"""A server repairs the FAQ entries' searchable copies at start-up (e.g. after the chunk store was reset)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.ops.faq import create_entry
from app.main import create_app
from ingest.pipeline import remove_document

QUESTION = "社内の卓球台は何時まで使えますか？"
ANSWER = "卓球台は平日の18時から21時まで使えます。"


def test_missing_faq_copy_is_reindexed_when_the_server_starts(make_services):
    services = make_services()
    entry = create_entry(services, question=QUESTION, answer=ANSWER, category="other")
    # The chunk store loses the entry (reset, restored backup, ...): the database still has it.
    remove_document(store=services.store, doc_id=f"faq:{entry.id}")
    services.store.bump_version(embedder=services.embedder.name)
    services.index.refresh()
    assert not any(c.doc_id == f"faq:{entry.id}" for c in services.index.snapshot.chunks)

    with TestClient(create_app(services.settings, services=services)) as client:
        body = client.post("/api/ask", json={"question": QUESTION}).json()
    assert body["outcome"] == "answered"
    assert "21時" in body["answer"]
    assert body["sources"][0]["source"] == "FAQ"
