"""What answering a question produces: the reply, its outcome and its cited sources (`AnswerResult`).

Its own module so that the parts that build or store a result (the generator, the query log, the Slack bot) need
not import the answering road itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from app.types import EscalationReason, Outcome

EXTRACTIVE_VERSION = "extractive-v2"


@dataclass
class Source:
    source: str
    title: str
    section: str
    page: int | None
    snippet: str
    score: float
    url: str | None = None
    kind: str = "doc"
    doc_id: str = ""


@dataclass
class AnswerResult:
    query_id: str
    question: str
    answer: str
    outcome: Outcome
    confidence: float
    category: str | None  # a Category once validated; None when nothing was found
    sources: list[Source] = field(default_factory=list)
    language: str = "ja"
    escalation_reason: EscalationReason | None = None
    latency_ms: float = 0.0
    prompt_version: str = EXTRACTIVE_VERSION
    corpus_version: int = 0
    origin: str = "api"  # where the question came from: an app.types.Origin, or an API caller's own label
    user_id: str | None = None
    # A secret for the asker alone: `GET /api/questions/{query_id}` with it returns the status and staff answer.
    # Only its hash is stored (the query log's `follow_up_hash`).
    follow_up_token: str | None = field(default=None, repr=False)

    def to_api(self) -> dict:
        """The documented `/api/ask` (and `madoguchi ask --json`) shape."""
        return {
            "query_id": self.query_id,
            "question": self.question,
            "answer": self.answer,
            "outcome": self.outcome,
            "confidence": round(self.confidence, 4),
            "category": self.category,
            "sources": [
                {
                    "source": s.source,
                    "title": s.title,
                    "section": s.section,
                    "page": s.page,
                    "snippet": s.snippet,
                    "score": round(s.score, 4),
                    "url": s.url,
                }
                for s in self.sources
            ],
            "language": self.language,
            "escalation_reason": self.escalation_reason,
            "prompt_version": self.prompt_version,
            "follow_up_token": self.follow_up_token,
        }

    def to_dict(self) -> dict:
        return asdict(self)
