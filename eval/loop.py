"""`madoguchi eval loop`: the improvement loop replayed — does a question the staff answered once get answered the
next time, in other words?

Round 1 asks every question of a golden set through the production `answer()` (production threshold, recorded in a
temporary query log, as an HTTP asker would be). Every question the bot did not answer right (escalated, or
answered from the wrong place) is resolved by "the staff" with its reference answer and 「FAQ に登録」, exactly as
the console does it: `app.ops.resolutions.resolve_questions(..., add_to_faq=True)`. Round 2 asks every rewording.
A rewording is right when it is answered from its original's article (the golden `source`/`section`, or an
`also_in` place) or from the FAQ entry made for its original; answered from anywhere else it is wrong; escalated it
is not deflected.

Keys: `round1_right` (share of questions answered right in round 1), `staff_answered` (questions the staff
resolved), `round2_deflection` (answered / rewordings), `round2_precision` (right / answered), `round2_answered`,
`round2_right`, `round2_top_right` (first source right, whatever the confidence), `per_category`, `failures`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import BadRequestError
from app.settings import Settings
from eval.datasets import read_jsonl
from eval.metrics import source_matches
from eval.workspace import temp_services

logger = logging.getLogger(__name__)

# The staff's answer to a question the regulations do not settle (used when the golden item has no answer text).
NO_RULE_ANSWER = {
    "ja": "この件は規程に定めがないため、担当部署から個別にご案内します。総務部までお問い合わせください。",
    "en": "The regulations do not settle this; the responsible department will advise you individually. "
    "Please contact General Affairs.",
}


@dataclass
class LoopItem:
    id: str
    question: str
    answerable: bool
    category: str
    places: list[tuple[str, list[str]]]  # (source, sections) that answer it: the golden place and `also_in`
    reference: str  # the answer the staff give
    lang: str = "ja"


@dataclass
class Rewording:
    id: str
    of: str
    question: str


@dataclass
class LoopRun:
    summary: dict
    meta: dict = field(default_factory=dict)


def _sections(value) -> list[str]:
    return [value] if isinstance(value, str) else [str(s) for s in (value or [])]


def reference_answer(row: dict, *, lang: str) -> str:
    """The staff answer: the golden item's answer text when it has one, else its facts, else the no-rule answer."""
    for key in ("reference_answer", "answer", "staff_answer"):
        if isinstance(row.get(key), str) and row[key].strip():
            return row[key].strip()
    facts = [str(f).strip() for f in row.get("answer_facts") or [] if str(f).strip()]
    if facts and row.get("answerable"):
        sep = "。" if lang == "ja" else ". "
        return sep.join(f.rstrip("。.") for f in facts) + ("。" if lang == "ja" else ".")
    return NO_RULE_ANSWER[lang]


def read_items(path: Path) -> list[LoopItem]:
    from app.answer import detect_language

    items = []
    for row in read_jsonl(path):
        if "id" not in row or "question" not in row:
            raise BadRequestError(
                f"{path}: every item needs id and question",
                f"{path}: 各行に id と question が必要です",
                code="bad_dataset",
            )
        lang = detect_language(str(row["question"]))
        places = []
        if row.get("source"):
            places.append((str(row["source"]), _sections(row.get("section"))))
        for extra in row.get("also_in") or []:
            if isinstance(extra, dict) and extra.get("source"):
                places.append((str(extra["source"]), _sections(extra.get("section"))))
        items.append(
            LoopItem(
                id=str(row["id"]),
                question=str(row["question"]),
                answerable=bool(row.get("answerable", True)),
                category=str(row.get("category") or "other"),
                places=places,
                reference=reference_answer(row, lang=lang),
                lang=lang,
            )
        )
    return items


def read_rewordings(path: Path) -> list[Rewording]:
    out = []
    for n, row in enumerate(read_jsonl(path), 1):
        if not all(k in row for k in ("id", "of", "question")):
            raise BadRequestError(
                f"{path}: rewording {n} needs id, of and question",
                f"{path}: {n} 件目の言い換えに id, of, question が必要です",
                code="bad_dataset",
            )
        out.append(Rewording(id=str(row["id"]), of=str(row["of"]), question=str(row["question"])))
    return out


def rewordings_of_questions(path: Path) -> list[dict]:
    """Rewording rows ({"id", "of", "question"}) from a question file whose items carry `rewordings` lists
    (the format of eval/training/questions/)."""
    out = []
    for row in read_jsonl(path):
        for n, q in enumerate(row.get("rewordings") or [], 1):
            out.append({"id": f"{row['id']}-r{n}", "of": row["id"], "question": q})
    return out


def _answered_right(result, item: LoopItem, faq_doc: str | None, *, cited_only: bool = False) -> bool:
    """Answered, and from the original's place or its FAQ entry (`cited_only`: whatever the outcome)."""
    if (result.outcome != "answered" and not cited_only) or not result.sources:
        return False
    top = result.sources[0]
    if faq_doc and top.doc_id == faq_doc:
        return True
    if not item.answerable:
        return False
    return any(source_matches(top.source, top.section, source=s, sections=secs) for s, secs in item.places)


def _cited(result) -> list[dict]:
    return [{"source": s.source, "section": s.section} for s in result.sources[:2]]


def _category(category: str) -> str | None:
    from app.answer import validate_category

    try:
        return validate_category(category)
    except BadRequestError:
        return None  # a category the product does not know (e.g. benefits): the asked question's own


def cite_for(services, places: list[tuple[str, list[str]]]) -> dict | None:
    """The article the staff would cite for a golden item's places, as the bot indexed it ({"source", "section"})."""
    snapshot = services.index.snapshot
    for source, sections in places:
        for c in snapshot.chunks if snapshot is not None else []:
            if source_matches(c.source, c.section, source=source, sections=sections):
                return {"source": c.source, "section": c.section}
    return None


def replay(services, items: list[LoopItem], rewordings: list[Rewording], *, adapt: bool = False) -> dict:
    """Both rounds over `services` (which must have a query log). Returns the summary. With `adapt`, the staff
    also cite the article each answer rests on, and `madoguchi adapt` runs between the rounds (issue 16)."""
    from app.answer import answer
    from app.ops import adapt as adapter_training
    from app.ops.resolutions import resolve_questions

    by_id = {i.id: i for i in items}
    unknown = sorted({r.of for r in rewordings if r.of not in by_id})
    if unknown:
        raise BadRequestError(
            f"rewordings of unknown questions: {', '.join(unknown[:5])}",
            f"存在しない質問の言い換えがあります: {', '.join(unknown[:5])}",
            code="bad_dataset",
        )
    failures: list[dict] = []
    faq_doc: dict[str, str] = {}
    round1_right: set[str] = set()
    for item in items:
        res = answer(question=item.question, services=services, origin="eval")
        if _answered_right(res, item, None):
            round1_right.add(item.id)
            continue
        done = asyncio.run(
            resolve_questions(
                services,
                [res.query_id],
                answer=item.reference,
                by="eval",
                add_to_faq=True,
                category=_category(item.category),
                cite=cite_for(services, item.places) if adapt else None,
            )
        )
        if done.faq is not None:
            faq_doc[item.id] = done.faq.doc_id
    adapted = adapter_training.adapt(services, by="eval").to_dict() if adapt else None
    per_cat: dict[str, dict] = {}
    answered = right = top_right = 0
    for rw in rewordings:
        item = by_id[rw.of]
        res = answer(question=rw.question, services=services, origin="eval")
        ok = _answered_right(res, item, faq_doc.get(item.id))
        top_right += _answered_right(res, item, faq_doc.get(item.id), cited_only=True)
        c = per_cat.setdefault(item.category, {"rewordings": 0, "answered": 0, "right": 0})
        c["rewordings"] += 1
        if res.outcome == "answered":
            answered += 1
            c["answered"] += 1
            right += ok
            c["right"] += ok
        if not ok:
            failures.append(
                {
                    "id": rw.id,
                    "of": rw.of,
                    "question": rw.question,
                    "original": item.question,
                    "reason": "wrong_answer" if res.outcome == "answered" else "escalated",
                    "staff_answered": item.id in faq_doc,
                    "confidence": round(float(res.confidence), 4),
                    "cited": _cited(res),
                }
            )

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    for c in per_cat.values():
        c["deflection"] = ratio(c["answered"], c["rewordings"])
        c["precision"] = ratio(c["right"], c["answered"])
    return {
        "questions": len(items),
        "rewordings": len(rewordings),
        "round1_right": ratio(len(round1_right), len(items)),
        "round1_right_count": len(round1_right),
        "staff_answered": len(faq_doc),
        "round2_answered": answered,
        "round2_right": right,
        "round2_deflection": ratio(answered, len(rewordings)),
        "round2_precision": ratio(right, answered),
        "round2_right_rate": ratio(right, len(rewordings)),
        # the first source is the right one, answered or not: what retrieval finds before the confidence decides
        "round2_top_right": ratio(top_right, len(rewordings)),
        "per_category": dict(sorted(per_cat.items())),
        "adapt": adapted,
        "failures": failures,
    }


def run_loop(
    *,
    docs: Path,
    questions: Path,
    rewordings: Path,
    settings: Settings,
    embedder=None,
    tokenizer=None,
    adapt: bool = False,
) -> LoopRun:
    docs = Path(docs)
    if not docs.exists():
        raise BadRequestError(f"Documents not found: {docs}", f"文書が見つかりません: {docs}", code="bad_dataset")
    items = read_items(Path(questions))
    rws = read_rewordings(Path(rewordings))
    with temp_services(settings, embedder=embedder, tokenizer=tokenizer, with_log=True) as services:
        started = time.perf_counter()
        services.ingest(paths=[docs.resolve()])
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        summary = replay(services, items, rws, adapt=adapt)
        replay_s = time.perf_counter() - started
        mode = "extractive" if services.generator is None else f"llm:{settings.llm}:{settings.llm_model}"
    meta = {
        "docs": str(docs),
        "questions_file": str(questions),
        "rewordings_file": str(rewordings),
        "threshold": settings.confidence_threshold,
        "mode": mode,
        "embedder": settings.embedder,
        "ingest_seconds": round(ingest_s, 2),
        "replay_seconds": round(replay_s, 2),
    }
    return LoopRun(summary=summary, meta=meta)


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def format_loop(run: LoopRun) -> str:
    s, m = run.summary, run.meta
    out = [
        f"{m['questions_file']} + {m['rewordings_file']} over {m['docs']} ({m['mode']}, threshold {m['threshold']:.2f})",
        f"  round 1: {s['questions']} questions, right {s['round1_right_count']} ({_fmt(s['round1_right'])}); "
        f"staff answered {s['staff_answered']} (resolved with 「FAQ に登録」)",
        f"  round 2: {s['rewordings']} rewordings, answered {s['round2_answered']} "
        f"(deflection {_fmt(s['round2_deflection'])}), right {s['round2_right']} "
        f"(precision {_fmt(s['round2_precision'])}); first source right {_fmt(s['round2_top_right'])}",
        "per category:",
    ]
    if s.get("adapt"):
        a = s["adapt"]
        out.insert(
            2,
            f"  adapt: {a['pairs']} pairs, held-out rank-1 {_fmt(a['heldout_hit1_before'])} -> "
            f"{_fmt(a['heldout_hit1_after'])}, {a['reason']}",
        )
    for cat, c in s["per_category"].items():
        out.append(
            f"  {cat:12} n={c['rewordings']:4}  deflection={_fmt(c['deflection'])}  precision={_fmt(c['precision'])}"
        )
    out.append(f"failures ({len(s['failures'])}):")
    for f in s["failures"]:
        cited = "; ".join(f"{c['source']} | {c['section']}" for c in f["cited"]) or "(nothing)"
        out.append(
            f"  {f['id']} [{f['reason']}] conf={f['confidence']:.3f}\n      {f['question']}\n"
            f"      original: {f['original']}\n      cited: {cited}"
        )
    return "\n".join(out)
