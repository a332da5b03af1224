"""Markdown: front matter, `#` headings, and the article captions that wikis and static-site generators hide —
a line holding only a template tag that renders a heading (`{{< heading title="結婚祝金" >}}`,
`{% include article.html title="弔慰金" %}`), or a bold caption (`**（年次有給休暇）**`). Tables stay rows."""

from __future__ import annotations

import html
import re

import yaml

from ingest.document import LoadedDocument
from ingest.structure import ARTICLE_LEVEL, CAPTION_LINE, Block, bold_caption, heading_level, recover_articles

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.S)
_TAG_LINE = re.compile(r"^\s*(\{%.*?%\}|\{\{.*?\}\})\s*$")
_TAG_TITLE = re.compile(r"""\b(?:title|heading|caption|name|label|text)\s*[=:]\s*["“'「]([^"”'」]+)["”'」]""")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ANCHOR = re.compile(r"\s*\{#[^}]*\}\s*$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"<[^>]+>")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_TABLE_ROW = re.compile(r"^\s*\|(.*)\|\s*$")


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors/aliases: front matter never needs them, and they are how a 300-byte file expands into
    gigabytes (billion laughs)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases are not allowed in front matter")
        return super().compose_node(parent, index)


def _front_matter(text: str) -> tuple[dict, str]:
    m = _FRONT.match(text)
    if not m:
        return {}, text
    try:
        meta = yaml.load(m.group(1), Loader=_NoAliasLoader) or {}  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), text[m.end() :]


def _clean_md(line: str) -> str:
    line = _MD_LINK.sub(r"\1", line)
    line = _HTML_TAG.sub("", line)
    line = _TAG.sub("", line)
    return html.unescape(line)


def _template_title(line: str) -> str | None:
    """The heading a template-tag line renders (its title= argument), or None."""
    m = _TAG_LINE.match(line)
    if not m:
        return None
    t = _TAG_TITLE.search(m.group(1))
    return t.group(1).strip() if t else None


def _table_row(line: str) -> str | None:
    if _TABLE_RULE.match(line):
        return ""
    m = _TABLE_ROW.match(line)
    if not m:
        return None
    return " | ".join(c.strip() for c in m.group(1).split("|"))


def load_markdown_text(text: str, fallback_title: str) -> LoadedDocument:
    meta, body = _front_matter(text)
    blocks: list[Block] = []
    buf: list[str] = []
    in_code = False
    base_level = 1  # level of the last `#` heading: captions without `#` sit one below it …
    article_level: int | None = None  # … unless `#` headings are articles themselves: then they are their siblings

    def flush() -> None:
        if any(s.strip() for s in buf):
            blocks.append(Block("\n".join(buf).strip("\n")))
        buf.clear()

    def caption_level(text: str) -> int:
        level = heading_level(text)
        if level is not None:
            return level
        return article_level if article_level is not None else min(6, max(base_level + 1, 2))

    for line in body.split("\n"):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            buf.append(line)
            continue
        if in_code:
            buf.append(line)
            continue
        m = _MD_HEADING.match(line)
        if m:
            flush()
            level = len(m.group(1))
            text = _clean_md(_ANCHOR.sub("", m.group(2))).strip()
            if CAPTION_LINE.match(text) or heading_level(text) == ARTICLE_LEVEL:
                article_level = level
            elif article_level is not None and level <= article_level:
                article_level = None
                base_level = level
            else:
                base_level = level
            blocks.append(Block(text, level))
            continue
        title = _template_title(line)
        caption = title or bold_caption(line)
        if caption:
            flush()
            blocks.append(Block(caption, caption_level(caption)))
            continue
        plain_level = heading_level(line.strip())
        if plain_level is not None:  # 「第5条（休日）」 written as a plain line
            flush()
            blocks.append(Block(_clean_md(line.strip()), plain_level))
            continue
        row = _table_row(line)
        if row is not None:
            if row:
                buf.append(_clean_md(row))
            continue
        buf.append(_clean_md(line.rstrip()))
    flush()
    title = (
        _clean_md(str(meta.get("title") or "")).strip()
        or next((b.text for b in blocks if b.level == 1), "")
        or fallback_title
    )
    redirect = str(meta.get("redirect_to") or "").strip()
    if redirect and not any(b.text.strip() for b in blocks if b.level is None):
        # A page that only points elsewhere (Jekyll `redirect_to`): keep it findable, pointing to the new place.
        blocks = [Block(f"{title}: {redirect}")]
        meta.setdefault("url", redirect)
    return LoadedDocument(
        title=title,
        blocks=recover_articles(blocks),
        category=str(meta["category"]).strip() if meta.get("category") else None,
        url=str(meta["url"]).strip() if meta.get("url") else None,
    )
