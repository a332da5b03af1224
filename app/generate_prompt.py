"""Prompt templates (files in prompts/), the numbered excerpts given to the model, and citation parsing.

A template file is Markdown with YAML front matter carrying its `version` (recorded with every answer as
`prompt_version`), then a `=== system ===` section and a `=== user ===` section. The system section is fixed
text: it may not contain placeholders, so no document or question text can ever reach the system message. The
user section has `{{question}}` and `{{excerpts}}`, filled in one pass (text that itself contains `{{…}}` is
not expanded again). Document text is escaped so that it cannot close the `<excerpts>` block it sits in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from app.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
NOT_ANSWERED = "NO_ANSWER"  # the fixed marker a template asks for when the excerpts don't answer
EXCERPT_CHARS = 1500  # longest excerpt text given to the model

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_SECTION = re.compile(r"^=== (system|user) ===[ \t]*$", re.M)
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
USER_FIELDS = ("question", "excerpts")
# [1] / [1][3] / [1, 3] / [1、3] / full-width ［１］
_CITATION = re.compile(r"[\[［]\s*([0-9０-９]+(?:\s*[,，、]\s*[0-9０-９]+)*)\s*[\]］]")
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)


@dataclass(frozen=True)
class PromptTemplate:
    version: str
    language: str
    system: str
    user: str
    path: Path

    def render_user(self, **values: str) -> str:
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.user)


def load_prompt(name: str, lang: str, *, directory: Path = PROMPTS_DIR) -> PromptTemplate:
    """Read `prompts/<name>.<lang>.md`; a missing or malformed template is a start-up ConfigError."""
    path = directory / f"{name}.{lang}.md"

    def bad(why_en: str, why_ja: str) -> ConfigError:
        return ConfigError(
            f"Prompt template {path}: {why_en}", f"プロンプトテンプレート {path}: {why_ja}", code="bad_prompt"
        )

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise bad(f"cannot be read ({exc}).", f"読み込めません（{exc}）。") from exc
    m = _FRONT.match(text)
    meta = yaml.safe_load(m.group(1)) if m else None
    if not isinstance(meta, dict) or not str(meta.get("version") or "").strip():
        raise bad("needs YAML front matter with a `version`.", "`version` を含む YAML front matter が必要です。")
    assert m is not None  # a None match has no dict front matter and was refused above
    parts = _SECTION.split(text[m.end() :])
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    system, user = sections.get("system", ""), sections.get("user", "")
    if not system or not user:
        raise bad(
            "needs a `=== system ===` and a `=== user ===` section.",
            "`=== system ===` と `=== user ===` の両方の節が必要です。",
        )
    if _PLACEHOLDER.search(system):
        raise bad(
            "the system section must be fixed text (no {{placeholders}}).", "system 節にプレースホルダは使えません。"
        )
    found = set(_PLACEHOLDER.findall(user))
    if found != set(USER_FIELDS):
        raise bad(
            f"the user section must use exactly {{{{question}}}} and {{{{excerpts}}}} (found {sorted(found)}).",
            f"user 節には {{{{question}}}} と {{{{excerpts}}}} だけを使ってください（現在: {sorted(found)}）。",
        )
    if NOT_ANSWERED not in system:
        raise bad(
            f"the system section must tell the model to answer {NOT_ANSWERED} when it cannot answer.",
            f"答えられないときに {NOT_ANSWERED} と出力するよう system 節で指示してください。",
        )
    return PromptTemplate(
        version=str(meta["version"]).strip(),
        language=str(meta.get("language") or lang),
        system=system,
        user=user,
        path=path,
    )


def escape_data(text: str) -> str:
    """Make document / question text inert inside the tag-delimited user message (no tag can be opened or closed)."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;")


def format_excerpt(n: int, *, title: str, section: str, page: int | None, text: str) -> str:
    body = text.strip()
    if len(body) > EXCERPT_CHARS:
        body = body[:EXCERPT_CHARS].rstrip() + "…"
    lines = [f'<excerpt n="{n}">', f"title: {escape_data(title)}", f"section: {escape_data(section)}"]
    if page:
        lines.append(f"page: {page}")
    lines += ["", escape_data(body), "</excerpt>"]
    return "\n".join(lines)


def clean_reply(text: str) -> str:
    """Drop a reasoning model's <think> block and surrounding whitespace."""
    return _THINK.sub("", text or "").strip()


def is_not_answered(text: str) -> bool:
    return NOT_ANSWERED in text


def _to_int(digits: str) -> int:
    return int(digits.translate(str.maketrans("０１２３４５６７８９", "0123456789")))


def apply_citations(text: str, *, count: int) -> tuple[str, list[int]]:
    """Keep only citations of excerpts 1..count and renumber them in order of first citation.

    Returns the rewritten text (cited excerpt k-th in order → `[k]`, invented numbers removed) and the cited
    excerpt numbers in that order, so `[k]` in the text is `sources[k-1]` in the reply.
    """
    order: list[int] = []

    def rewrite(m: re.Match) -> str:
        nums = [_to_int(d) for d in re.split(r"\s*[,，、]\s*", m.group(1).strip())]
        kept = []
        for n in nums:
            if 1 <= n <= count:
                if n not in order:
                    order.append(n)
                k = order.index(n) + 1
                if k not in kept:
                    kept.append(k)
        return "".join(f"[{k}]" for k in kept)

    out = _CITATION.sub(rewrite, text)
    out = re.sub(r"[ \t]+([。．.、,])", r"\1", out)  # a dropped citation leaves no space before punctuation
    out = re.sub(r"[ \t]{2,}", " ", out)
    return out.strip(), order
