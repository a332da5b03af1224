"""Check eval/training/questions/northwind.jsonl against docs/ (run with the project's venv python)."""
import html
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE / "docs"
QUESTIONS = HERE.parents[1] / "questions" / "northwind.jsonl"
STYLES = {"casual", "long", "terse", "misspelled", "formal", "english"}
CATEGORIES = {"attendance", "expense", "supplies", "benefits", "other"}


def headings(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found: set[str] = set()
    if path.suffix == ".html":
        for m in re.finditer(r"<(h[1-6]|title)>(.*?)</\1>", text, re.S):
            found.add(html.unescape(re.sub(r"<[^>]+>", "", m.group(2))).strip())
    else:
        m = re.match(r"---\n(.*?)\n---\n", text, re.S)
        if m:
            for line in m.group(1).splitlines():
                if line.startswith("title:"):
                    found.add(line.split(":", 1)[1].strip())
        for line in text.splitlines():
            h = re.match(r"#{1,6}\s+(.*\S)", line)
            if h:
                found.add(h.group(1).strip())
    return found


def check_place(source, section, where, errors):
    path = DOCS / source
    if not path.is_file():
        errors.append(f"{where}: source {source!r} not under docs/")
        return
    sections = section if isinstance(section, list) else [section]
    have = headings(path)
    for s in sections:
        if s not in have:
            errors.append(f"{where}: section {s!r} is not a heading or the title of {source}")


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
        if q.get("style") not in STYLES or q.get("category") not in CATEGORIES:
            errors.append(f"{qid}: bad style/category")
        rw = q.get("rewordings")
        if not (isinstance(rw, list) and len(rw) == 2 and all(isinstance(r, str) and r.strip() for r in rw)):
            errors.append(f"{qid}: rewordings must be exactly 2 strings")
        elif len({q["question"], *rw}) != 3:
            errors.append(f"{qid}: rewordings repeat the question")
        if q.get("answerable"):
            if not (1 <= len(q.get("answer_facts") or []) <= 3):
                errors.append(f"{qid}: answerable needs 1-3 facts")
            if q.get("caption") != q.get("section"):
                errors.append(f"{qid}: caption differs from section")
            check_place(q.get("source") or "", q.get("section"), qid, errors)
            for extra in q.get("also_in", []):
                check_place(extra["source"], extra["section"], f"{qid} also_in", errors)
        else:
            if q.get("source") is not None or q.get("section") is not None or q.get("caption") is not None \
                    or q.get("answer_facts") != []:
                errors.append(f"{qid}: unanswerable must have null source/section/caption and no facts")
            if "near_miss" in q:
                check_place(q["near_miss"]["source"], q["near_miss"]["section"], f"{qid} near_miss", errors)
    errors += [f"duplicate id {i}" for i, c in ids.items() if c > 1]
    for e in errors:
        print("ERROR", e)
    ans = [q for q in rows if q.get("answerable")]
    print(f"{len(rows)} questions, {len(ans)} answerable, {len(rows) - len(ans)} unanswerable "
          f"({(len(rows) - len(ans)) / max(len(rows), 1):.1%})")
    print("styles:", dict(Counter(q["style"] for q in rows).most_common()))
    print("categories:", dict(Counter(q["category"] for q in rows).most_common()))
    print("answerable by folder:", dict(Counter(q["source"].split("/")[0] for q in ans).most_common()))
    docs = sorted(p for p in DOCS.rglob("*") if p.is_file())
    print(f"docs: {len(docs)} pages ({sum(p.suffix == '.html' for p in docs)} HTML); "
          f"cited: {len({q['source'] for q in ans})}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
