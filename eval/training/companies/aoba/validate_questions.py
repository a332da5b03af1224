#!/usr/bin/env python3
"""Check eval/training/questions/aoba.jsonl against the あおば精機 documents.

    python eval/training/companies/aoba/validate_questions.py

Checks: every line parses; ids are unique; required keys and types; answerable items cite a file that exists in
docs/ and a section that exists there (第N条 with its caption for numbered rules — also in the built file: the docx
caption paragraph, the HTML <h3>/<strong>, the PDF text, the text file line —, the exact caption for the Markdown
rules, the row question for the FAQ, the ## heading for the English guide); also_in / near_miss references resolve;
exactly two rewordings. Prints counts by style, category, source and answerable, and a sample of (question, section).
"""

from __future__ import annotations

import collections
import csv
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE.parents[1] / "questions" / "aoba.jsonl"
DOCS = HERE / "docs"
SOURCES = HERE / "sources"
sys.path.insert(0, str(HERE))
import build  # noqa: E402

NUMBERED_SRC = {
    "就業規則.docx": "就業規則.md",
    "賃金規程.html": "賃金規程.md",
    "旅費規程.pdf": "旅費規程.md",
    "情報セキュリティ規程.html": "情報セキュリティ規程.md",
    "備品・貸与PC管理規程.txt": "備品・貸与PC管理規程.md",
}
CAPTION_SRC = {"育児・介護休業規程.md": "育児・介護休業規程.md", "慶弔見舞金規程.md": "慶弔見舞金規程.md"}
STYLES = {"casual", "long", "terse", "misspelled", "formal", "english"}
CATEGORIES = {"attendance", "expense", "supplies", "benefits", "other"}


def built_text(name: str) -> str:
    path = DOCS / name
    if name.endswith(".docx"):
        from docx import Document

        return "\n".join(p.text for p in Document(path).paragraphs)
    if name.endswith(".pdf"):
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    return path.read_text(encoding="utf-8")


def main() -> int:
    errors: list[str] = []
    numbered = {out: {f"第{a.num}条": a.caption for a in build.parse(SOURCES / src).articles}
                for out, src in NUMBERED_SRC.items()}
    captions = {out: {a.caption for a in build.parse(SOURCES / src).articles} for out, src in CAPTION_SRC.items()}
    faq = {r[0] for r in list(csv.reader((SOURCES / "よくある質問.csv").open(encoding="utf-8")))[1:]}
    en = set(re.findall(r"^## (.+)$", (SOURCES / "office-guide-en.md").read_text(encoding="utf-8"), re.M))
    texts = {name: built_text(name) for name in list(NUMBERED_SRC) + list(CAPTION_SRC)}

    def check_ref(where: str, source: str, section: str) -> str | None:
        """Return the caption of a valid reference, else record an error."""
        if not (DOCS / source).is_file():
            errors.append(f"{where}: {source} is not in docs/")
            return None
        if source in numbered:
            cap = numbered[source].get(section)
            if cap is None:
                errors.append(f"{where}: {source} has no {section}")
                return None
            text = texts[source]
            shown = {
                ".docx": f"（{cap}）",
                ".html": f"（{cap}）",
                ".pdf": f"{section}（{cap}）",
                ".txt": f"{section}（{cap}）",
            }[Path(source).suffix]
            if shown not in text:
                errors.append(f"{where}: {shown!r} not found in built {source}")
            return cap
        if source in captions:
            if section not in captions[source] or section not in texts[source]:
                errors.append(f"{where}: caption {section!r} not in {source}")
            return section
        if source == "よくある質問.xlsx":
            if section not in faq:
                errors.append(f"{where}: FAQ row {section!r} not found")
            return section
        if source == "office-guide-en.md":
            if section not in en:
                errors.append(f"{where}: heading {section!r} not in the English guide")
            return section
        errors.append(f"{where}: unknown source {source}")
        return None

    rows = []
    for n, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: {exc}")
    ids = [r.get("id") for r in rows]
    for dup in {i for i in ids if ids.count(i) > 1}:
        errors.append(f"duplicate id {dup}")
    for r in rows:
        rid = r.get("id")
        for key in ("id", "question", "answerable", "source", "section", "caption", "answer_facts", "category",
                    "style", "asker_class", "rewordings"):
            if key not in r:
                errors.append(f"{rid}: missing {key}")
        if r.get("style") not in STYLES:
            errors.append(f"{rid}: style {r.get('style')!r}")
        if r.get("category") not in CATEGORIES:
            errors.append(f"{rid}: category {r.get('category')!r}")
        rw = r.get("rewordings") or []
        if len(rw) != 2 or r["question"] in rw or len(set(rw)) != 2:
            errors.append(f"{rid}: needs exactly two distinct rewordings")
        if r.get("answerable"):
            secs = r["section"] if isinstance(r["section"], list) else [r["section"]]
            caps = [check_ref(rid, r["source"], s) for s in secs]
            want = caps if isinstance(r["section"], list) else caps[0]
            if None not in caps and r.get("caption") != want:
                errors.append(f"{rid}: caption {r.get('caption')!r} != {want!r} (a list parallel to a list section)")
            if not 1 <= len(r.get("answer_facts") or []) <= 3:
                errors.append(f"{rid}: answerable items need 1-3 answer_facts")
            for ref in r.get("also_in", []):
                check_ref(f"{rid} also_in", ref["source"], ref["section"])
        else:
            if r.get("source") is not None or r.get("section") is not None or r.get("answer_facts"):
                errors.append(f"{rid}: unanswerable items have source/section null and no facts")
            if "near_miss" in r:
                check_ref(f"{rid} near_miss", r["near_miss"]["source"], r["near_miss"]["section"])

    total = len(rows)
    ans = sum(1 for r in rows if r.get("answerable"))
    print(f"{QUESTIONS.name}: {total} questions, {ans} answerable, {total - ans} unanswerable "
          f"({(total - ans) / max(total, 1):.0%}), {len(set(ids))} unique ids")
    print("by style:", dict(collections.Counter(r["style"] for r in rows).most_common()))
    print("by category:", dict(collections.Counter(r["category"] for r in rows).most_common()))
    print("by source (answerable):", dict(collections.Counter(r["source"] for r in rows if r["answerable"]).most_common()))
    print("with asker_class:", dict(collections.Counter(r["asker_class"] for r in rows if r["asker_class"]).most_common()))
    print("sample (question -> source / section / caption):")
    for r in random.Random(7).sample([r for r in rows if r["answerable"]], 8):
        print(f"  {r['id']} {r['question'][:40]!r} -> {r['source']} / {r['section']} / {r['caption']}")
    for e in errors:
        print("ERROR", e)
    print("OK" if not errors else f"{len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
