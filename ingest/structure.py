"""Japanese regulation structure, whatever the format: which lines are 章 / 節 / 条 headings, captions such as
「（年次有給休暇）」, and the numbers that Word lists and CSS counters generate.

Every loader ends in `recover_articles()`, so a caption on its own line before 「第1条　この規程は…」, an article
whose body starts on its heading line, or a bold caption without any number all become article headings, and the
section path an answer cites always names the article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"[0-9０-９一二三四五六七八九十百]+"
_CHAPTER = re.compile(rf"^\s*(第{_NUM}編|第{_NUM}章)(?:[\s　]|$)")
_SECTION = re.compile(rf"^\s*第{_NUM}節(?:[\s　]|$)")
_ARTICLE = re.compile(rf"^\s*第{_NUM}条(?:の{_NUM})?(?:[\s　（(]|$)")
_ARTICLE_WITH_BODY = re.compile(rf"^\s*(第{_NUM}条(?:の{_NUM})?)(?:\s*([（(][^）)]{{1,30}}[）)]))?[\s　]+(\S.*)$")
_APPENDIX = re.compile(r"^\s*(附\s*則|別表\s*[0-9０-９]*)\s*$")
# 「（目的）」 alone on a line: the caption of the article that follows.
CAPTION_LINE = re.compile(r"^\s*[（(]([^（）()]{1,30})[）)]\s*$")
# **（年次有給休暇）** / **第5条（年次有給休暇）** / **年次有給休暇** alone on a line (Markdown bold captions).
BOLD_CAPTION = re.compile(r"^\s*(?:\*\*|__)\s*([^*_]{1,40}?)\s*(?:\*\*|__)\s*$")
_ARTICLE_LABEL = re.compile(rf"第{_NUM}条(?:の{_NUM})?")
# English policies in PDF and text: "Section 3 — Passwords", "Article 12. Overtime", "Chapter IV: Leave".
_EN_LABEL = re.compile(r"^(chapter|part|section|article)\s+(?:\d{1,3}|[IVXLC]{1,6})\b\s*(?:[—–:.\-]\s*)?(.*)$", re.I)
# "4.2 Paid Time Off", "4.2.1 Accrual", "1. Introduction": a number, then a short title without sentence punctuation.
_EN_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+([A-Z][^.!?:;,。]{0,56})$")
_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with", "vs", "per"}


@dataclass
class Block:
    text: str
    level: int | None = None  # heading level (1 = document title); None for body text
    page: int | None = None


ARTICLE_LEVEL = 4


def heading_level(line: str) -> int | None:
    """The heading level of a plain-text line in a regulation (章/節/条, or an English policy's numbered and
    labelled headings), or None for body text."""
    if len(line) > 60:
        return None
    if _CHAPTER.match(line):
        return 2
    if _SECTION.match(line):
        return 3
    if _ARTICLE.match(line):
        return ARTICLE_LEVEL
    if _APPENDIX.match(line):
        return 2
    return english_heading_level(line)


def english_heading_level(line: str) -> int | None:
    """ "Section 3 — Passwords" / "Chapter 2" → 2, "Article 12. Overtime" → 4; numbered headings by depth: "4. Time
    Off" → 2, "4.2 Paid Time Off" → 3, "4.2.1 Accrual" → 4. A single number needs a Title Cased title of at most six
    words ("1. Submit the form" is a list item, "1. Introduction" a heading); deeper numbers at most nine words."""
    m = _EN_LABEL.match(line)
    if m:
        rest = m.group(2).strip()
        if rest and (rest[-1] in ".,;" or len(rest.split()) > 9):
            return None
        return ARTICLE_LEVEL if m.group(1).lower() == "article" else 2
    m = _EN_NUMBERED.match(line)
    if m is None:
        return None
    depth = m.group(1).count(".") + 1
    words = m.group(2).split()
    if depth == 1:
        if len(words) > 6 or any(w[0].islower() and w.lower() not in _SMALL_WORDS for w in words if w[0].isalpha()):
            return None
        return 2
    if len(words) > 9:
        return None
    return 3 if depth == 2 else ARTICLE_LEVEL


def caption_of(heading: str) -> str:
    """「第12条（年次有給休暇）」 → 「年次有給休暇」; a heading without brackets is its own caption."""
    text = _ARTICLE_LABEL.sub("", heading).strip()
    m = re.search(r"[（(]([^（）()]+)[）)]", text)
    if m:
        return m.group(1).strip()
    return re.sub(rf"^第{_NUM}[章節編]\s*", "", text).strip() or heading.strip()


def plain_blocks(text: str, page: int | None = None) -> list[Block]:
    """Blocks of a plain-text regulation: heading lines (章/節/条) and the body between them."""
    blocks: list[Block] = []
    body: list[str] = []

    def flush() -> None:
        if any(s.strip() for s in body):
            blocks.append(Block("\n".join(body).strip("\n"), None, page))
        body.clear()

    lines = text.split("\n")
    for line in lines:
        stripped = line.strip()
        m = _ARTICLE_WITH_BODY.match(stripped)
        if m and (len(m.group(3)) > 20 or re.search(r"[。、]", m.group(3))):
            # 「第3条　会社は、…」: the article starts here and its body follows on the same line
            flush()
            blocks.append(Block(m.group(1) + (m.group(2) or ""), ARTICLE_LEVEL, page))
            body.append(m.group(3))
            continue
        level = heading_level(stripped)
        if level is not None:
            flush()
            blocks.append(Block(stripped, level, page))
            continue
        body.append(line.rstrip())
    flush()
    return recover_articles(blocks)


def recover_articles(blocks: list[Block]) -> list[Block]:
    """Join a caption line with the article heading after it (「（目的）」 + 「第1条」 → 「第1条（目的）」), and turn
    caption-only lines between articles into article headings when the document has no article numbers."""
    out: list[Block] = []
    for b in blocks:
        if b.level == ARTICLE_LEVEL and "（" not in b.text and "(" not in b.text and out and out[-1].level is None:
            lines = out[-1].text.rstrip().split("\n")
            m = CAPTION_LINE.match(lines[-1])
            if m:
                rest = "\n".join(lines[:-1]).strip("\n")
                if rest.strip():
                    out[-1] = Block(rest, None, out[-1].page)
                else:
                    out.pop()
                out.append(Block(f"{b.text.strip()}（{m.group(1).strip()}）", b.level, b.page))
                continue
        out.append(b)
    return out


def bold_caption(line: str) -> str | None:
    """The caption of a Markdown line that holds only a bold caption, else None."""
    m = BOLD_CAPTION.match(line)
    if not m:
        return None
    text = m.group(1).strip()
    if CAPTION_LINE.match(text) or _ARTICLE.match(text) or len(text) <= 20:
        return text
    return None


# ---------- generated numbers (Word list numbering, CSS counters, <ol>) ----------

_KANJI_DIGITS = "〇一二三四五六七八九"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_IROHA = "イロハニホヘトチリヌルヲワカヨタレソツネナラムウヰノオクヤマケフコエテアサキユメミシヱヒモセス"
_AIUEO = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"


def kanji_number(n: int) -> str:
    """1 → 一, 10 → 十, 23 → 二十三, 105 → 百五 (Japanese counting as 第N条 uses it)."""
    if n <= 0:
        return str(n)
    out = ""
    for unit, name in ((1000, "千"), (100, "百"), (10, "十")):
        d, n = divmod(n, unit)
        if d:
            out += ("" if d == 1 else _KANJI_DIGITS[d]) + name
    if n:
        out += _KANJI_DIGITS[n]
    return out


def _roman(n: int) -> str:
    vals = [
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ]
    out = ""
    for v, s in vals:
        while n >= v:
            out += s
            n -= v
    return out


def _letters(n: int) -> str:
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out


def format_number(n: int, fmt: str) -> str:
    """A counter value in a Word numFmt or CSS list-style name."""
    fmt = (fmt or "decimal").lower().replace("_", "-")
    if fmt in ("decimal", "decimalzero", "decimal-leading-zero"):
        return f"{n:02d}" if "zero" in fmt else str(n)
    if fmt in ("decimalfullwidth", "decimalfullwidth2"):
        return str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if fmt in (
        "japanesecounting",
        "ideographtraditional",
        "ideographdigital",
        "cjk-ideographic",
        "japanese-informal",
        "japanese-formal",
        "japaneselegal",
        "chinesecounting",
    ):
        return kanji_number(n)
    if fmt in ("decimalenclosedcircle", "decimalenclosedcirclechinese"):
        return _CIRCLED[n - 1] if 0 < n <= len(_CIRCLED) else str(n)
    if fmt in ("lowerletter", "lower-alpha", "lower-latin"):
        return _letters(n)
    if fmt in ("upperletter", "upper-alpha", "upper-latin"):
        return _letters(n).upper()
    if fmt in ("lowerroman", "lower-roman"):
        return _roman(n)
    if fmt in ("upperroman", "upper-roman"):
        return _roman(n).upper()
    if fmt in ("iroha", "irohafullwidth", "katakana-iroha"):
        return _IROHA[(n - 1) % len(_IROHA)]
    if fmt in ("aiueo", "aiueofullwidth", "katakana"):
        return _AIUEO[(n - 1) % len(_AIUEO)]
    return str(n)


def numbered_heading(label: str, text: str) -> tuple[str, int | None, str]:
    """A generated label joined with its paragraph: 「第3条」 + 「（年次有給休暇）」 → 「第3条（年次有給休暇）」.

    Returns (heading or list-item text, the heading level the label implies or None for an ordinary list item,
    body text that followed the label in the same paragraph)."""
    label = label.strip()
    text = text.strip()
    level = heading_level(label + " ") if label else None
    if level is None:
        return (f"{label} {text}".strip(), None, "")
    if not text:
        return label, level, ""
    m = CAPTION_LINE.match(text)
    if m:
        return f"{label}（{m.group(1).strip()}）", level, ""
    if len(text) <= 30 and not re.search(r"[。、]", text):
        return (f"{label}（{text}）" if level == ARTICLE_LEVEL else f"{label} {text}"), level, ""
    return label, level, text
