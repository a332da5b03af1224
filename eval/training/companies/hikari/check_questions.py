"""Sanity checks for eval/training/questions/hikari.jsonl against the ひかりフーズ documents (stdlib only).

Checks: every line parses; ids unique; required keys and allowed values; exactly 2 rewordings; answerable items name
a file that exists in docs/ and a section/caption that really is an article (or FAQ row) of that file (caption is a list parallel to a list section); numbers
quoted in answer_facts occur in the cited article; unanswerable items carry no source/section/facts. Prints counts.

    python eval/training/companies/hikari/check_questions.py
"""

from __future__ import annotations

import collections
import csv
import json
import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE / "docs"
SOURCES = HERE / "sources"
QUESTIONS = HERE.parents[1] / "questions" / "hikari.jsonl"

# docs/ file -> where its plain text lives, and how its articles are marked
PLAIN = {
    "正社員就業規則.md": (DOCS / "正社員就業規則.md", "caption"),
    "短時間正社員就業規則.md": (DOCS / "短時間正社員就業規則.md", "tag"),
    "パートタイマー・アルバイト就業規則.docx": (SOURCES / "パートタイマー・アルバイト就業規則.txt", "numbered"),
    "契約社員就業規則.txt": (SOURCES / "契約社員就業規則.txt", "numbered"),
    "賃金規程.pdf": (SOURCES / "賃金規程.txt", "numbered"),
    "出張旅費規程.html": (SOURCES / "出張旅費規程.txt", "numbered"),
    "育児・介護休業規程.md": (DOCS / "育児・介護休業規程.md", "numbered"),
    "慶弔見舞金規程.md": (DOCS / "慶弔見舞金規程.md", "numbered"),
    "情報セキュリティ規程.md": (DOCS / "情報セキュリティ規程.md", "numbered"),
    "備品管理規程.md": (DOCS / "備品管理規程.md", "numbered"),
    "よくある質問.xlsx": (SOURCES / "よくある質問.tsv", "faq"),
}
CLASS_DOC = {
    "正社員": {"正社員就業規則.md", "賃金規程.pdf"},
    "短時間正社員": {"短時間正社員就業規則.md"},
    "パート": {"パートタイマー・アルバイト就業規則.docx"},
    "アルバイト": {"パートタイマー・アルバイト就業規則.docx"},
    "契約社員": {"契約社員就業規則.txt"},
}
STYLES = {"casual", "long", "terse", "misspelled", "formal", "english"}
CATEGORIES = {"attendance", "expense", "supplies", "benefits", "other"}
KEYS = ["id", "question", "answerable", "source", "section", "caption", "answer_facts", "category", "style",
        "asker_class", "rewordings"]


def articles(name: str) -> dict[str, tuple[str, str]]:
    """section key -> (caption, article text) for one document."""
    path, kind = PLAIN[name]
    text = path.read_text(encoding="utf-8")
    out: dict[str, tuple[str, str]] = {}
    if kind == "faq":
        rows = list(csv.reader(text.splitlines(), delimiter="\t"))[1:]
        return {r[0]: (r[0], r[1]) for r in rows}
    if kind == "numbered":
        pat = re.compile(r"^[#\s]*(第\d+条)（([^）]+)）\s*$", re.M)
    elif kind == "caption":
        pat = re.compile(r"^(?:###\s*|\*\*)（([^）]+)）(?:\*\*)?\s*$", re.M)
    else:  # template tags
        pat = re.compile(r'^\{[{%].*?title="([^"]+)".*?[}%]\}\s*$', re.M)
    matches = list(pat.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[m.end():end]
        body = re.split(r"^#{1,2} ", body, flags=re.M)[0] if kind != "numbered" else body
        if kind == "numbered":
            out[m.group(1)] = (m.group(2), body)
        else:
            out[m.group(1)] = (m.group(1), body)
    return out


def numbers(s: str) -> list[str]:
    s = unicodedata.normalize("NFKC", s)
    return [n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", s)]


def main() -> int:
    errors: list[str] = []
    arts = {name: articles(name) for name in PLAIN}
    rows = []
    for n, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: {exc}")
    ids = collections.Counter(r.get("id") for r in rows)
    errors += [f"duplicate id {i}" for i, c in ids.items() if c > 1]
    questions = collections.Counter(r.get("question") for r in rows)
    errors += [f"duplicate question {q}" for q, c in questions.items() if c > 1]
    for r in rows:
        rid = r.get("id")
        if list(r.keys()) != KEYS:
            errors.append(f"{rid}: keys {list(r.keys())}")
        if r["style"] not in STYLES:
            errors.append(f"{rid}: style {r['style']}")
        if r["category"] not in CATEGORIES:
            errors.append(f"{rid}: category {r['category']}")
        if r["asker_class"] not in (None, *CLASS_DOC):
            errors.append(f"{rid}: asker_class {r['asker_class']}")
        if len(r["rewordings"]) != 2 or len(set(r["rewordings"] + [r["question"]])) != 3:
            errors.append(f"{rid}: rewordings must be 2 distinct new phrasings")
        if not r["answerable"]:
            if r["source"] or r["section"] or r["caption"] or r["answer_facts"]:
                errors.append(f"{rid}: unanswerable item has source/section/caption/facts")
            continue
        if not (1 <= len(r["answer_facts"]) <= 3):
            errors.append(f"{rid}: {len(r['answer_facts'])} answer_facts")
        src = r["source"]
        if src not in PLAIN or not (DOCS / src).is_file():
            errors.append(f"{rid}: source {src} missing from docs/")
            continue
        sections = r["section"] if isinstance(r["section"], list) else [r["section"]]
        texts = []
        for sec in sections:
            if sec not in arts[src]:
                errors.append(f"{rid}: section {sec!r} not an article of {src}")
                continue
            texts.append(arts[src][sec])
        captions = r["caption"] if isinstance(r["caption"], list) else [r["caption"]]
        if isinstance(r["section"], list) != isinstance(r["caption"], list) or (
                len(texts) == len(sections) and captions != [c for c, _ in texts]):
            errors.append(f"{rid}: caption {r['caption']!r} does not match the caption(s) of {sections}")
        body = unicodedata.normalize("NFKC", " ".join(c + " " + t for c, t in texts)).replace(",", "")
        for fact in r["answer_facts"]:
            # a worked example such as 「（8kmなら192円）」 is arithmetic on the article, not a quote from it
            quoted = re.sub(r"（[^（）]*なら[^（）]*）", "", fact)
            for num in numbers(quoted):
                if num not in body:
                    errors.append(f"{rid}: number {num} of fact {fact!r} not in {sections}")
    # counts
    ans = [r for r in rows if r["answerable"]]
    print(f"questions: {len(rows)}  answerable: {len(ans)}  unanswerable: {len(rows) - len(ans)} "
          f"({(len(rows) - len(ans)) / len(rows):.0%})")
    print("style:", dict(collections.Counter(r["style"] for r in rows).most_common()))
    print("category:", dict(collections.Counter(r["category"] for r in rows).most_common()))
    print("asker_class:", dict(collections.Counter(str(r["asker_class"]) for r in rows).most_common()))
    print("source:", dict(collections.Counter(r["source"] for r in ans).most_common()))
    scoped = [r for r in ans if r["asker_class"] and r["source"] in CLASS_DOC[r["asker_class"]]]
    scoped_non_default = [r for r in scoped if r["asker_class"] != "正社員"]
    print(f"class stated, answered by that class's rules: {len(scoped)} (non-正社員: {len(scoped_non_default)}); "
          f"class stated in all: {sum(1 for r in rows if r['asker_class'])}")
    shared = {"年次有給休暇", "半日単位及び時間単位の年次有給休暇", "賞与", "退職金", "特別休暇", "休職", "復職", "通勤手当",
              "試用期間", "副業・兼業"}
    default = [r for r in ans if r["asker_class"] is None and r["source"] in CLASS_DOC["正社員"]
               and (r["caption"] if isinstance(r["caption"], list) else [r["caption"]])[0] in shared]
    print(f"no class stated, shared topic, answered by the 正社員 rules: {len(default)}")
    for e in errors:
        print("ERROR", e)
    print("OK" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
