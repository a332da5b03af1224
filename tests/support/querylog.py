"""Helpers of the query-log / FAQ / console tests: a tiny corpus, real services over it, seeding, a served app.
The `api` fixture (tests/conftest.py) builds on `build` and `client_for`."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from datetime import datetime

import uvicorn
from fastapi.testclient import TestClient

from app.result import AnswerResult, Source
from app.main import create_app
from tests.servers import free_port

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

CORPUS = {
    "就業規則.md": """---
category: attendance
---
# 就業規則

## 第34条 年次有給休暇
1. 会社は、6か月間継続勤務し、所定労働日の8割以上出勤した従業員に対して、10日の年次有給休暇を付与する。
2. 年次有給休暇を取得するときは、原則として3日前までに所属長に申請しなければならない。

## 第35条 特別休暇
従業員が結婚するときは5日、配偶者が出産するときは2日の特別休暇を与える。
""",
    "経費精算規程.md": """---
category: expense
---
# 経費精算規程

## 第5条 旅費の精算
出張の旅費は、出張終了後2週間以内に旅費精算書に領収書を添えて経理部に提出する。

## 第6条 交通費
通勤以外の業務上の交通費は、経路と金額を記載して月末までに申請する。
""",
}

ANSWERABLE = "年次有給休暇は何日付与されますか"
GAP = "社内Wi-Fiのゲスト用パスワードはどこで確認できますか"


def write_corpus(folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")


def build(make_services, tmp_path, *, ingest: bool = True, **overrides):
    """Real services over the tiny corpus (own Chroma dir and query log), admin token set."""
    docs = tmp_path / "docs"
    write_corpus(docs)
    overrides.setdefault("admin_token", TOKEN)
    services = make_services(docs_dir=docs, **overrides)
    if ingest:
        services.ingest(paths=[docs])
    return services


@contextlib.contextmanager
def client_for(services):
    with TestClient(create_app(services.settings, services=services)) as client:
        yield client


def result(
    question: str,
    *,
    outcome: str = "answered",
    category: str | None = "attendance",
    channel: str = "api",
    reason: str | None = None,
    user_id: str | None = "U1",
    answer: str | None = None,
) -> AnswerResult:
    return AnswerResult(
        query_id=uuid.uuid4().hex,
        question=question,
        answer=answer or f"ボットの回答: {question}",
        outcome=outcome,
        confidence=0.82 if outcome == "answered" else 0.2,
        category=category,
        sources=[
            Source(
                "就業規則.md", "就業規則", "就業規則 > 第34条 年次有給休暇", None, "10日の年次有給休暇を付与する", 0.9
            )
        ],
        escalation_reason=(reason or "low_confidence") if outcome == "escalated" else None,
        origin=channel,
        user_id=user_id,
    )


def seed(log, rows: list[tuple]) -> list[str]:
    """rows: (aware datetime, question, outcome, category, helpful or None). Returns the ids in order."""
    ids = []
    for at, question, outcome, category, helpful in rows:
        r = result(question, outcome=outcome, category=category)
        log.record(r, created_at=at)
        if helpful is not None:
            log.set_feedback(r.query_id, helpful)
        ids.append(r.query_id)
    return ids


class ServedApp:
    """The app served by a real uvicorn server on a free 127.0.0.1 port, in a thread."""

    def __init__(self, services) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(services.settings, services=services),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "ServedApp":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def aware(text: str) -> datetime:
    """'2026-03-02T09:00+09:00' → datetime."""
    return datetime.fromisoformat(text)
