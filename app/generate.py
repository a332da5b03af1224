"""Generative answers (optional): an LLM writes the answer from the retrieved excerpts, citing them as [n].

`answer()` first builds the extractive result; when `MADOGUCHI_LLM` is `openai` or `ollama` it then hands that
result and the retrieval to `Generator.generate()`:

- The passages become numbered excerpts [1]..[n] (title, section, page, text) inside the user message, escaped
  and delimited as data. The system message is the template's fixed text and never carries document text.
- The reply's `[n]` citations are parsed; only excerpts that were given count, renumbered in order of citation,
  and they become `result.sources`. A reply with the "not answered" marker, or without a valid citation, is
  escalated like a low-confidence answer.
- On an LLM error, timeout, refusal, empty or truncated reply the extractive result is kept (it is the
  fallback), a warning says why, and `prompt_version` records it: `extractive-v1+fallback:<reason>`.
- Confidence gate: below `SKIP_RATIO × threshold` the retrieval found nothing close, so the LLM is not asked and
  the question is escalated as before (`extractive-v1+skipped:low_confidence`). Between that and the threshold
  the LLM may still answer — its grounded reading of the excerpts, with the marker as its way out, decides.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from pydantic import SecretStr

from app.errors import ConfigError
from app.generate_prompt import (
    PromptTemplate,
    apply_citations,
    clean_reply,
    escape_data,
    format_excerpt,
    is_not_answered,
    load_prompt,
)
from app.reply import compose_escalation, format_page
from app.result import EXTRACTIVE_VERSION
from app.settings import Settings

logger = logging.getLogger(__name__)

SKIP_RATIO = 0.5  # skip the LLM when confidence < SKIP_RATIO × threshold
PROMPT_NAME = "answer"
LANGUAGES = ("ja", "en")

SOURCES_TEXT = {
    "ja": {"header": "出典:", "line": "[{n}] {section}{page}"},
    "en": {"header": "Sources:", "line": "[{n}] {section}{page}"},
}


class LLMFallback(Exception):
    """The model gave no usable reply; `reason` is short and machine-readable (timeout, http_500, refusal, …)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def fallback_reason(exc: BaseException) -> str:
    """Name an exception from the OpenAI or Ollama client (or the network under them)."""
    import httpx

    if isinstance(exc, LLMFallback):
        return exc.reason
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on it
        openai = None  # type: ignore[assignment]
    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):
            return "timeout"
        if isinstance(exc, openai.APIStatusError):
            return f"http_{exc.status_code}"
        if isinstance(exc, openai.APIConnectionError):
            return "connection"
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return "timeout"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 400:
        return f"http_{status}"
    if isinstance(exc, (ConnectionError, httpx.TransportError)):
        return "connection"
    return "error"


class Generator:
    """Writes grounded, cited answers with a LangChain chat model; the extractive result is its fallback."""

    def __init__(
        self,
        *,
        chat_model,
        backend: str,
        model: str,
        prompts: dict[str, PromptTemplate],
        skip_ratio: float = SKIP_RATIO,
    ):
        self.chat_model = chat_model
        self.backend = backend
        self.model = model
        self.prompts = prompts
        self.skip_ratio = skip_ratio

    def prompt_for(self, lang: str) -> PromptTemplate:
        return self.prompts.get(lang) or self.prompts["en"]

    def messages(self, *, question: str, passages, lang: str) -> list:
        """The chat messages for one question: fixed system text, then the question and excerpts as data."""
        from langchain_core.messages import HumanMessage, SystemMessage

        prompt = self.prompt_for(lang)
        excerpts = "\n\n".join(
            format_excerpt(i, title=p.top.chunk.title, section=p.top.chunk.section, page=p.top.chunk.page, text=p.text)
            for i, p in enumerate(passages, 1)
        )
        user = prompt.render_user(question=escape_data(question), excerpts=excerpts)
        return [SystemMessage(content=prompt.system), HumanMessage(content=user)]

    def complete(self, messages: list) -> str:
        """Call the model; raise LLMFallback (or the client's exception) when there is no usable reply."""
        reply = self.chat_model.invoke(messages)
        meta = getattr(reply, "response_metadata", None) or {}
        extra = getattr(reply, "additional_kwargs", None) or {}
        if extra.get("refusal"):
            raise LLMFallback("refusal", str(extra["refusal"])[:200])
        finish = meta.get("finish_reason") or meta.get("done_reason")
        if finish == "content_filter":
            raise LLMFallback("refusal", "content filter")
        text = (
            reply.content
            if isinstance(reply.content, str)
            else "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in reply.content)
        )
        text = clean_reply(text)
        if not text:
            raise LLMFallback("empty", f"finish_reason={finish}")
        if finish == "length" and not is_not_answered(text):
            raise LLMFallback("truncated", f"{len(text)} characters")
        return text

    def generate(self, *, result, retrieval, threshold: float):
        """Return a new result written by the model, or `result` itself (marked) when falling back."""
        passages = retrieval.passages
        if not passages:
            return result
        if result.confidence < threshold * self.skip_ratio:
            logger.info(
                "LLM skipped for query %s: confidence %.3f < %.2f × threshold %.2f",
                result.query_id,
                result.confidence,
                self.skip_ratio,
                threshold,
            )
            return dataclasses.replace(result, prompt_version=f"{EXTRACTIVE_VERSION}+skipped:low_confidence")
        lang = result.language if result.language in self.prompts else "en"
        prompt = self.prompt_for(lang)
        try:
            text = self.complete(self.messages(question=result.question, passages=passages, lang=lang))
        except Exception as exc:  # noqa: BLE001 - any failure of the model falls back to the extractive answer
            reason = fallback_reason(exc)
            logger.warning(
                "LLM (%s %s) gave no usable answer for query %s; answering extractively. reason=%s: %s",
                self.backend,
                self.model,
                result.query_id,
                reason,
                exc,
                exc_info=reason == "error",
            )
            return dataclasses.replace(result, prompt_version=f"{result.prompt_version}+fallback:{reason}")
        return self._grounded(result, text=text, passages=passages, lang=lang, version=prompt.version)

    def _grounded(self, result, *, text: str, passages, lang: str, version: str):
        body, cited = apply_citations(text, count=len(passages))
        if is_not_answered(text) or not cited:
            why = "not-answered marker" if is_not_answered(text) else "no valid citation"
            logger.info("LLM escalated query %s: %s", result.query_id, why)
            return dataclasses.replace(
                result,
                answer=compose_escalation(passages, lang=lang),
                outcome="escalated",
                escalation_reason="low_confidence",
                prompt_version=version,
            )
        sources = [self._source(result, passages, n) for n in cited]
        t = SOURCES_TEXT[lang]
        footer = "\n".join(
            t["line"].format(n=k, section=s.section, page=format_page(s.page, lang)) for k, s in enumerate(sources, 1)
        )
        return dataclasses.replace(
            result,
            answer=f"{body}\n\n{t['header']}\n{footer}",
            outcome="answered",
            escalation_reason=None,
            sources=sources,
            prompt_version=version,
        )

    @staticmethod
    def _source(result, passages, n: int):
        """The Source of excerpt n: the extractive one (same passage, same snippet) when present."""
        from app.result import Source

        c = passages[n - 1].top.chunk
        for s in result.sources:
            if s.doc_id == c.doc_id and s.section == c.section:
                return s
        return Source(
            source=c.source,
            title=c.title,
            section=c.section,
            page=c.page,
            snippet=passages[n - 1].text[:200],
            score=float(passages[n - 1].score),
            url=c.url,
            kind=c.kind,
            doc_id=c.doc_id,
        )


# ---------- backends by name ----------


def _openai(settings: Settings):
    from langchain_openai import ChatOpenAI

    key = settings.llm_api_key
    if not key and not settings.llm_base_url:
        raise ConfigError(
            "MADOGUCHI_LLM=openai needs MADOGUCHI_LLM_API_KEY (or OPENAI_API_KEY), or MADOGUCHI_LLM_BASE_URL for a local server.",
            "MADOGUCHI_LLM=openai には MADOGUCHI_LLM_API_KEY（または OPENAI_API_KEY）、ローカルサーバーなら MADOGUCHI_LLM_BASE_URL の設定が必要です。",
        )
    return ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        api_key=SecretStr(key or "not-needed"),
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=0,
    )


def _ollama(settings: Settings):
    from langchain_ollama import ChatOllama

    if "llm_model" not in settings.model_fields_set:
        raise ConfigError(
            "MADOGUCHI_LLM=ollama needs MADOGUCHI_LLM_MODEL (an Ollama model name, e.g. qwen2.5:7b).",
            "MADOGUCHI_LLM=ollama には MADOGUCHI_LLM_MODEL（Ollama のモデル名。例: qwen2.5:7b）の設定が必要です。",
        )
    return ChatOllama(
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        temperature=0,
        client_kwargs={"timeout": settings.llm_timeout_s},
    )


BACKENDS: dict[str, Callable[[Settings], object]] = {"openai": _openai, "ollama": _ollama}


def make_generator(settings: Settings) -> Generator:
    """Build the generator named by `MADOGUCHI_LLM`; an unknown name or a bad template fails at start-up."""
    factory = BACKENDS.get(settings.llm)
    if factory is None:
        valid = ", ".join(["none", *BACKENDS])
        raise ConfigError(
            f"Unknown MADOGUCHI_LLM {settings.llm!r}; use one of: {valid}.",
            f"MADOGUCHI_LLM {settings.llm!r} は不明です。次のいずれかにしてください: {valid}",
        )
    prompts = {lang: load_prompt(PROMPT_NAME, lang) for lang in LANGUAGES}
    generator = Generator(chat_model=factory(settings), backend=settings.llm, model=settings.llm_model, prompts=prompts)
    logger.info(
        "generative answers on: %s %s (prompts %s)",
        settings.llm,
        settings.llm_model,
        ", ".join(p.version for p in prompts.values()),
    )
    return generator
