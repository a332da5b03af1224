"""Check eval/training/questions/harbor.jsonl against docs/ (run with the project's venv python).

Checks: every line parses, ids are `harbor-NNN` and unique, exactly 2 rewordings that differ from the question,
style/category values, unanswerable rows carry no source/section/facts, every answerable `source` exists under
docs/, and every `section` (and `also_in` / `near_miss` place) is a heading in the text extracted from that document:
PDF with pypdf (a line of the page text), DOCX with python-docx (a Title/Heading-styled paragraph), HTML <h1>-<h6>,
the text file's heading lines, Markdown `#` lines, or the Question column of the FAQ sheet.

With `--ingest` it also runs the real ingest (hash embedder, temporary store) over docs/ and reports how many
answerable questions have a chunk whose section path matches (`eval.metrics.source_matches`); run it from the
repository root with PYTHONPATH set, e.g.
`PYTHONPATH=$PWD /work/main/.venv/bin/python eval/training/companies/harbor/validate_questions.py --ingest`.
"""

from __future__ import annotations

import html
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE / "docs"
QUESTIONS = HERE.parents[1] / "questions" / "harbor.jsonl"
STYLES = {"casual", "long", "terse", "misspelled", "formal", "english"}
CATEGORIES = {"attendance", "expense", "supplies", "benefits", "other"}
_cache: dict[str, set[str]] = {}


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", s)).strip()


def headings(path: Path) -> set[str]:
    if path.name in _cache:
        return _cache[path.name]
    found: set[str] = set()
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from pypdf import PdfReader

        for page in PdfReader(str(path)).pages:
            found |= {norm(line) for line in (page.extract_text() or "").splitlines() if line.strip()}
    elif suffix == ".docx":
        from docx import Document

        for p in Document(str(path)).paragraphs:
            style = (p.style.name or "").lower() if p.style is not None else ""
            if style == "title" or style.startswith("heading"):
                found.add(norm(p.text))
    elif suffix in (".html", ".htm"):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"<(h[1-6])[^>]*>(.*?)</\1>", text, re.S):
            found.add(norm(html.unescape(re.sub(r"<[^>]+>", "", m.group(2)))))
    elif suffix == ".txt":
        lines = path.read_text(encoding="utf-8").splitlines()
        found.add(norm(lines[0]))
        found |= {norm(ln) for ln in lines if re.match(r"^Section \d+ — \S", ln)}
    elif suffix == ".md":
        for line in path.read_text(encoding="utf-8").splitlines():
            h = re.match(r"#{1,6}\s+(.*\S)", line)
            if h:
                found.add(norm(h.group(1)))
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(str(path), read_only=True)
        for ws in wb.worksheets:
            rows = list(ws.iter_rows(values_only=True))
            qi = [str(c or "").strip().lower() for c in rows[0]].index("question")
            found |= {norm(str(r[qi])) for r in rows[1:] if r[qi]}
        wb.close()
    _cache[path.name] = found
    return found


def check_place(source, section, where, errors):
    path = DOCS / (source or "")
    if not source or not path.is_file():
        errors.append(f"{where}: source {source!r} not under docs/")
        return
    have = headings(path)
    for s in section if isinstance(section, list) else [section]:
        if not isinstance(s, str) or norm(s) not in have:
            errors.append(f"{where}: section {s!r} is not a heading of {source}")


def ingest_match(rows: list[dict]) -> None:
    import tempfile

    from app.settings import Settings
    from eval.metrics import source_matches
    from eval.workspace import temp_services

    with tempfile.TemporaryDirectory() as tmp, temp_services(Settings(embedder="hash"), keep=Path(tmp)) as services:
        services.ingest(paths=[DOCS])
        chunks = {(c.source, c.section) for c in services.index.snapshot.chunks}
    ans = [q for q in rows if q.get("answerable")]
    miss: Counter = Counter()
    per_source: Counter = Counter()
    for q in ans:
        sections = q["section"] if isinstance(q["section"], list) else [q["section"]]
        per_source[q["source"]] += 1
        if not any(source_matches(src, sec, source=q["source"], sections=sections) for src, sec in chunks):
            miss[q["source"]] += 1
    ok = len(ans) - sum(miss.values())
    print(f"ingest: {len({s for s, _ in chunks})} documents, {len(chunks)} distinct sections; "
          f"{ok}/{len(ans)} answerable questions match a chunk section ({ok / max(len(ans), 1):.1%})")
    for src, n in sorted(per_source.items()):
        print(f"  {src}: {n - miss[src]}/{n} match")


def main() -> int:
    errors: list[str] = []
    ids: Counter = Counter()
    rows = []
    for n, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: {e}")
            continue
        rows.append(q)
        qid = q.get("id", f"line {n}")
        ids[qid] += 1
        if not re.fullmatch(r"harbor-\d{3}", str(qid)):
            errors.append(f"{qid}: id must be harbor-NNN")
        if q.get("style") not in STYLES or q.get("category") not in CATEGORIES:
            errors.append(f"{qid}: bad style/category")
        rw = q.get("rewordings")
        if not (isinstance(rw, list) and len(rw) == 2 and all(isinstance(r, str) and r.strip() for r in rw)):
            errors.append(f"{qid}: rewordings must be exactly 2 strings")
        elif len({q["question"].lower(), *(r.lower() for r in rw)}) != 3:
            errors.append(f"{qid}: rewordings repeat the question")
        if q.get("answerable"):
            if not (1 <= len(q.get("answer_facts") or []) <= 3):
                errors.append(f"{qid}: answerable needs 1-3 facts")
            if q.get("caption") != q.get("section"):
                errors.append(f"{qid}: caption differs from section")
            check_place(q.get("source"), q.get("section"), qid, errors)
            for extra in q.get("also_in", []):
                check_place(extra["source"], extra["section"], f"{qid} also_in", errors)
        else:
            if q.get("source") is not None or q.get("section") is not None or q.get("caption") is not None \
                    or q.get("answer_facts") != []:
                errors.append(f"{qid}: unanswerable must have null source/section/caption and no facts")
            if "near_miss" in q:
                check_place(q["near_miss"]["source"], q["near_miss"]["section"], f"{qid} near_miss", errors)
    errors += [f"duplicate id {i}" for i, c in ids.items() if c > 1]
    texts = Counter(q["question"].lower() for q in rows)
    errors += [f"duplicate question {t!r}" for t, c in texts.items() if c > 1]
    for e in errors:
        print("ERROR", e)
    ans = [q for q in rows if q.get("answerable")]
    print(f"{len(rows)} questions ({3 * len(rows)} wordings), {len(ans)} answerable, {len(rows) - len(ans)} "
          f"unanswerable ({(len(rows) - len(ans)) / max(len(rows), 1):.1%})")
    print("styles:", dict(Counter(q["style"] for q in rows).most_common()))
    print("categories:", dict(Counter(q["category"] for q in rows).most_common()))
    print("answerable by source:", dict(Counter(q["source"] for q in ans).most_common()))
    print("asker_class stated:", sum(1 for q in rows if q.get("asker_class")),
          dict(Counter(q["asker_class"] for q in rows if q.get("asker_class")).most_common()))
    print("near_miss given:", sum(1 for q in rows if "near_miss" in q), "also_in given:",
          sum(1 for q in rows if q.get("also_in")))
    if "--ingest" in sys.argv:
        ingest_match(rows)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
