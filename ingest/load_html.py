"""HTML (wiki exports, intranet pages): headings, paragraphs, lists and tables in document order.

Article numbers that the page does not contain as text are computed: an `<ol>` whose items open with a caption
(「<strong>（目的）</strong>…」) numbers its articles 第1条, 第2条 … (from `start`), and headings numbered by a CSS
counter (`h3::before { content: "第" counter(art) "条" }`) get the number the browser would draw. Tables stay rows
(「日当 | 国内 | 2,000円」), never a run of loose cells.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ingest.document import LIMITS, Limits, LoadedDocument, fail
from ingest.load_word import table_rows
from ingest.structure import ARTICLE_LEVEL, CAPTION_LINE, Block, heading_level, numbered_heading, recover_articles

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_SKIP = {"script", "style", "nav", "header", "footer", "noscript", "template", "button", "form", "aside"}
_TEXT_LEAVES = {"p", "pre", "dd", "dt", "blockquote", "figcaption", "caption"}
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_CONTENT = re.compile(r"content\s*:\s*([^;]+)")
_BLOCKS = _HEADINGS | _TEXT_LEAVES | {"div", "section", "article", "main", "ol", "ul", "li", "table", "br", "hr"}


@dataclass
class _Counters:
    """CSS counters: which selectors increment/reset which counter, and the ::before content that draws them."""

    increments: list[tuple[str, str]] = field(default_factory=list)  # (simple selector, counter)
    resets: list[tuple[str, str]] = field(default_factory=list)
    before: list[tuple[str, str]] = field(default_factory=list)  # (simple selector, content expression)
    values: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, css: str) -> _Counters:
        out = cls()
        css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
        for selectors, body in _RULE.findall(css):
            for sel in selectors.split(","):
                sel = sel.strip()
                is_before = "::before" in sel or ":before" in sel
                simple = re.split(r"\s+|>", sel.replace("::before", "").replace(":before", "").strip())[-1]
                if not simple:
                    continue
                for m in re.finditer(r"counter-increment\s*:\s*([\w-]+)", body):
                    out.increments.append((simple, m.group(1)))
                for m in re.finditer(r"counter-reset\s*:\s*([\w-]+)", body):
                    out.resets.append((simple, m.group(1)))
                c = _CONTENT.search(body)
                if is_before and c and "counter" in c.group(1):
                    out.before.append((simple, c.group(1)))
        return out

    @staticmethod
    def _matches(el, simple: str) -> bool:
        tag, _, cls_name = simple.partition(".")
        if tag and tag != "*" and el.name != tag:
            return False
        if cls_name and cls_name not in (el.get("class") or []):
            return False
        return bool(tag or cls_name)

    def targets(self, el) -> bool:
        return any(self._matches(el, simple) for simple, _ in self.increments + self.resets + self.before)

    def label(self, el) -> str:
        """Apply the element's resets/increments, then evaluate its ::before content (empty when none)."""
        for simple, name in self.resets:
            if self._matches(el, simple):
                self.values[name] = 0
        for simple, name in self.increments:
            if self._matches(el, simple):
                self.values[name] = self.values.get(name, 0) + 1
        for simple, expr in self.before:
            if self._matches(el, simple):
                out = []
                for m in re.finditer(r"\"([^\"]*)\"|'([^']*)'|counters?\(\s*([\w-]+)[^)]*\)", expr):
                    if m.group(3):
                        out.append(str(self.values.get(m.group(3), 0)))
                    else:
                        out.append(m.group(1) if m.group(1) is not None else m.group(2))
                return "".join(out).strip()
        return ""


def _text(el) -> str:
    return " ".join(el.get_text(" ", strip=True).split())


def _is_article_list(ol) -> bool:
    """An <ol> whose items each open with a caption: a list of articles."""
    items = ol.find_all("li", recursive=False)
    if len(items) < 2:
        return False
    captioned = 0
    for li in items:
        first = next((c for c in li.children if getattr(c, "name", None) or str(c).strip()), None)
        if getattr(first, "name", None) in ("strong", "b", "h3", "h4", "h5", "span") and len(_text(first)) <= 30:
            captioned += 1
        elif first is not None and CAPTION_LINE.match(
            _text(first) if getattr(first, "name", None) else str(first).strip()
        ):
            captioned += 1
    return captioned >= max(2, len(items) * 0.6)


class _Walker:
    def __init__(self, counters: _Counters) -> None:
        self.counters = counters
        self.blocks: list[Block] = []

    def heading(self, text: str, level: int) -> None:
        self.blocks.append(Block(text, level))

    def body(self, text: str) -> None:
        if text:
            self.blocks.append(Block(text, heading_level(text)))

    def walk(self, el, depth: int = 0) -> None:
        inline: list[str] = []  # text nodes and inline elements between blocks: one paragraph

        def flush() -> None:
            text = " ".join(" ".join(inline).split())
            inline.clear()
            if text:
                self.body(text)

        for child in el.children:
            name = getattr(child, "name", None)
            if name is None:
                if el.name not in ("ol", "ul", "table", "tr", "thead", "tbody"):
                    inline.append(str(child))
                continue
            if name in _SKIP:
                continue
            if name not in _BLOCKS and child.find(list(_BLOCKS)) is None and not self.counters.targets(child):
                inline.append(child.get_text(" "))
                continue
            flush()
            label = self.counters.label(child)
            if name in _HEADINGS:
                text = _text(child)
                level: int | None = int(name[1])
                if label:
                    text, level = _join(label, text, level)
                if text:
                    self.heading(text, level or int(name[1]))
            elif name == "table":
                rows = [[_text(c) for c in tr.find_all(["th", "td"])] for tr in child.find_all("tr")]
                text = table_rows(rows)
                if text:
                    self.blocks.append(Block(text))
            elif name == "ol" and depth == 0 and _is_article_list(child):
                self.articles(child)
            elif name in ("ol", "ul"):
                self.items(child, depth)
            elif name in _TEXT_LEAVES or child.find(list(_BLOCKS)) is None:
                text = _text(child)
                if label:
                    text, implied = _join(label, text, None)
                    if implied is not None:
                        self.heading(text, implied)
                        continue
                self.body(text)
            else:
                if label:
                    text, implied = _join(label, "", None)
                    if implied is not None:
                        self.heading(text, implied)
                self.walk(child, depth)
        flush()

    def items(self, lst, depth: int) -> None:
        ordered = lst.name == "ol"
        start = int(lst.get("start", "1")) if str(lst.get("start", "1")).isdigit() else 1
        for n, li in enumerate(lst.find_all("li", recursive=False), start=start):
            nested = li.find_all(["ol", "ul"], recursive=False)
            for sub in nested:
                sub.extract()
            text = _text(li)
            if text:
                self.blocks.append(Block(("  " * depth) + (f"{n}. " if ordered else "- ") + text))
            for sub in nested:
                self.items(sub, depth + 1)

    def articles(self, ol) -> None:
        start = int(ol.get("start", "1")) if str(ol.get("start", "1")).isdigit() else 1
        for n, li in enumerate(ol.find_all("li", recursive=False), start=start):
            first = next((c for c in li.children if getattr(c, "name", None) or str(c).strip()), None)
            caption = ""
            if first is not None and getattr(first, "name", None):
                caption = _text(first)
                first.extract()
            elif first is not None:
                caption = str(first).strip()
                first.extract()
            caption = caption.strip("（）() 　")
            self.heading(f"第{n}条（{caption}）" if caption else f"第{n}条", ARTICLE_LEVEL)
            self.walk(li, depth=1)


def _join(label: str, text: str, level: int | None) -> tuple[str, int | None]:
    joined, implied, rest = numbered_heading(label, text)
    if implied is None:
        return joined, level
    return (f"{joined} {rest}".strip() if rest else joined), implied


def load_html(path: Path, limits: Limits = LIMITS) -> LoadedDocument:
    """HTML's characters are checked by `ingest.loaders.load` (the file's bytes bound the parse)."""
    from bs4 import BeautifulSoup

    raw = path.read_bytes()
    if not raw.strip():
        raise fail("The file is empty.", "ファイルが空です。")
    soup = BeautifulSoup(raw, "html.parser")
    counters = _Counters.parse("\n".join(s.get_text() for s in soup.find_all("style")))
    title = soup.title.get_text(strip=True) if soup.title else ""
    root = soup.body or soup
    walker = _Walker(counters)
    walker.walk(root)
    blocks = walker.blocks
    if not blocks:
        raise fail("The HTML page has no text.", "HTML に本文がありません。")
    h1 = next((b.text for b in blocks if b.level == 1), "")
    # A wiki's <title> carries the site's name too (「賃金規程 - 社内Wiki」): the page's own <h1> is the title.
    title = h1 if h1 and (not title or h1 in title) else (title or path.stem)
    return LoadedDocument(title=title, blocks=recover_articles(blocks))
