"""Dataset readers: BEIR folders (retrieval) and golden question sets (answers / escalation).

BEIR layout: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`), `qrels/<split>.tsv` with the
header `query-id<TAB>corpus-id<TAB>score` (graded relevance allowed).

Golden sets: JSON Lines with `id`, `question`, `answerable`, `source`, `section` (string, list or null),
`answer_facts`, `category` — the format of `../shared/eval/*.jsonl`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import BadRequestError


def _bad(en: str, ja: str) -> BadRequestError:
    return BadRequestError(en, ja, code="bad_dataset")


def read_jsonl(path: Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise _bad(f"File not found: {path}", f"ファイルが見つかりません: {path}")
    rows = []
    with path.open(encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _bad(
                    f"{path}:{n}: not valid JSON ({exc.msg})", f"{path}:{n}: JSON として読めません（{exc.msg}）"
                ) from exc
            if not isinstance(row, dict):
                raise _bad(
                    f"{path}:{n}: each line must be a JSON object",
                    f"{path}:{n}: 各行は JSON オブジェクトにしてください",
                )
            rows.append(row)
    return rows


# ---------- BEIR ----------


@dataclass
class BeirDataset:
    corpus: dict[str, dict]  # _id -> {"title", "text"}
    queries: dict[str, str]  # _id -> text (only queries that have judgements)
    qrels: dict[str, dict[str, float]]  # query id -> corpus id -> grade
    name: str = ""


def read_beir(folder: Path, *, split: str = "test") -> BeirDataset:
    folder = Path(folder)
    if not folder.is_dir():
        raise _bad(f"Not a folder: {folder}", f"フォルダではありません: {folder}")
    corpus = {}
    for entry in read_jsonl(folder / "corpus.jsonl"):
        if "_id" not in entry:
            raise _bad(f"{folder}/corpus.jsonl: an entry has no _id", f"{folder}/corpus.jsonl: _id のない行があります")
        corpus[str(entry["_id"])] = {"title": str(entry.get("title") or ""), "text": str(entry.get("text") or "")}
    all_queries = {str(r["_id"]): str(r.get("text") or "") for r in read_jsonl(folder / "queries.jsonl") if "_id" in r}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise _bad(f"File not found: {qrels_path}", f"ファイルが見つかりません: {qrels_path}")
    qrels: dict[str, dict[str, float]] = {}
    with qrels_path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        for n, row in enumerate(reader, 1):
            if not row or not "".join(row).strip():
                continue
            if n == 1 and row[0].strip().lower() in ("query-id", "query_id", "qid"):
                continue
            if len(row) < 3:
                raise _bad(
                    f"{qrels_path}:{n}: expected query-id, corpus-id, score",
                    f"{qrels_path}:{n}: query-id・corpus-id・score の3列が必要です",
                )
            try:
                grade = float(row[2])
            except ValueError as exc:
                raise _bad(
                    f"{qrels_path}:{n}: score {row[2]!r} is not a number",
                    f"{qrels_path}:{n}: score {row[2]!r} が数値ではありません",
                ) from exc
            qrels.setdefault(row[0].strip(), {})[row[1].strip()] = grade
    queries = {q: all_queries[q] for q in qrels if q in all_queries and all_queries[q].strip()}
    qrels = {q: rels for q, rels in qrels.items() if q in queries}
    if not queries:
        raise _bad(
            f"{folder}: no query of queries.jsonl has judgements in {qrels_path.name}",
            f"{folder}: {qrels_path.name} に評価のあるクエリがありません",
        )
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels, name=folder.name)


# ---------- golden QA ----------


@dataclass
class GoldenItem:
    id: str
    question: str
    answerable: bool
    source: str | None
    sections: list[str] = field(default_factory=list)
    answer_facts: list[str] = field(default_factory=list)
    category: str = "other"


def read_golden(path: Path) -> list[GoldenItem]:
    items = []
    seen = set()
    for n, row in enumerate(read_jsonl(path), 1):
        missing = [k for k in ("id", "question", "answerable") if k not in row]
        if missing:
            raise _bad(
                f"{path}: item {n} lacks {', '.join(missing)}", f"{path}: {n} 件目に {', '.join(missing)} がありません"
            )
        section = row.get("section")
        sections = [section] if isinstance(section, str) else [str(s) for s in (section or [])]
        item = GoldenItem(
            id=str(row["id"]),
            question=str(row["question"]),
            answerable=bool(row["answerable"]),
            source=row.get("source") or None,
            sections=sections,
            answer_facts=[str(f) for f in row.get("answer_facts") or []],
            category=str(row.get("category") or "other"),
        )
        if item.id in seen:
            raise _bad(f"{path}: duplicate id {item.id}", f"{path}: id {item.id} が重複しています")
        if item.answerable and not item.source:
            raise _bad(
                f"{path}: answerable item {item.id} has no source",
                f"{path}: 回答可能な {item.id} に source がありません",
            )
        seen.add(item.id)
        items.append(item)
    if not items:
        raise _bad(f"{path}: no questions", f"{path}: 質問がありません")
    return items
