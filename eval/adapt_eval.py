"""`madoguchi eval adapt`: does the deployment's query adapter (`madoguchi adapt`) learn the company's language?

Half the topics (an answerable question's article; split by a hash of it, so the same every run) are fed as the
staff would: the original question and its first rewording are asked through the production `answer()` and
resolved with a citation of the article (app/ops/resolutions.py, as the console does). `madoguchi adapt` then
trains (with its own held-out swap check). Reported before → after, on questions never fed:
(a) `fed_topics`: the held-back rewordings (the second one) of fed topics;
(b) `other_topics`: every wording of the other topics.
Each with rank-1 (the first source is the expected article), deflection (answered at the threshold) and
precision (answered and right / answered). The documents go to a temporary store and log; nothing else is touched.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from app.settings import Settings
from eval.datasets import GoldenItem, read_golden
from eval.loop import cite_for, rewordings_of_questions
from eval.loop import read_rewordings as loop_rewordings
from eval.metrics import source_matches
from eval.workspace import temp_settings

logger = logging.getLogger(__name__)


def read_rewordings(questions: Path, rewordings: Path | None) -> dict[str, list[str]]:
    """Rewordings by question id, in file order: from a rewordings file ({"id", "of", "question"}), else from each
    golden item's own `rewordings` list (eval/loop.py reads both formats)."""
    rows = (
        [{"of": r.of, "question": r.question} for r in loop_rewordings(rewordings)]
        if rewordings is not None
        else rewordings_of_questions(questions)
    )
    out: dict[str, list[str]] = {}
    for row in rows:
        if str(row["question"]).strip():
            out.setdefault(str(row["of"]), []).append(str(row["question"]))
    return out


def is_fed(item: GoldenItem) -> bool:
    key = f"{item.source}|{'|'.join(item.sections)}"
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 2 == 0


@dataclass
class Score:
    n: int = 0
    rank1: int = 0
    answered: int = 0
    answered_right: int = 0

    def to_dict(self) -> dict:
        return {
            "questions": self.n,
            "rank1": round(self.rank1 / self.n, 4) if self.n else None,
            "deflection": round(self.answered / self.n, 4) if self.n else None,
            "precision": round(self.answered_right / self.answered, 4) if self.answered else None,
        }


def measure(services, asked: list[tuple[str, GoldenItem]], *, threshold: float, params) -> Score:
    from app.answer import answer

    score = Score()
    for text, item in asked:
        res = answer(question=text, services=services, threshold=0.0, record=False, origin="eval", params=params)
        right = bool(res.sources) and source_matches(
            res.sources[0].source, res.sources[0].section, source=item.source, sections=item.sections
        )
        score.n += 1
        score.rank1 += right
        if res.sources and res.confidence >= threshold:
            score.answered += 1
            score.answered_right += right
    return score


def run_adapt_eval(
    *,
    docs: Path,
    questions: Path,
    rewordings: Path | None,
    settings: Settings,
    threshold: float | None = None,
    params=None,
) -> dict:
    from app.answer import DEFAULT_PARAMS, answer
    from app.ops.adapt import adapt
    from app.ops.resolutions import resolve_questions
    from app.services import build_services

    params = params or DEFAULT_PARAMS
    threshold = settings.confidence_threshold if threshold is None else threshold
    words = read_rewordings(questions, rewordings)
    items = [i for i in read_golden(questions) if i.answerable and i.source and words.get(i.id)]
    fed = [i for i in items if is_fed(i)]
    other = [i for i in items if not is_fed(i)]
    held_back = [(words[i.id][1], i) for i in fed if len(words[i.id]) > 1]
    other_asked = [(q, i) for i in other for q in [i.question, *words[i.id]]]
    tmp = Path(tempfile.mkdtemp(prefix="madoguchi-eval-adapt-"))
    try:
        services = build_services(
            temp_settings(settings, tmp).model_copy(update={"adapter_refresh_seconds": 0.0}), with_log=True
        )
        services.ingest(paths=[Path(docs)])
        before = {
            "fed_topics": measure(services, held_back, threshold=threshold, params=params),
            "other_topics": measure(services, other_asked, threshold=threshold, params=params),
        }
        staff_answered = 0
        for item in fed:
            cite = cite_for(services, [(item.source or "", item.sections)])
            if cite is None:
                continue
            for text in (item.question, words[item.id][0]):
                res = answer(question=text, services=services, origin="eval", user_id="eval-asker", params=params)
                asyncio.run(
                    resolve_questions(
                        services,
                        [res.query_id],
                        answer=" / ".join(item.answer_facts) or "規程のとおりです。",
                        by="eval",
                        cite=cite,
                    )
                )
                staff_answered += 1
        report = adapt(services, by="eval", params=params)
        after = {
            "fed_topics": measure(services, held_back, threshold=threshold, params=params),
            "other_topics": measure(services, other_asked, threshold=threshold, params=params),
        }
        if services.query_log is not None:
            services.query_log.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out: dict = {
        "docs": str(docs),
        "questions": str(questions),
        "threshold": threshold,
        "topics_fed": len({(i.source, tuple(i.sections)) for i in fed}),
        "topics_other": len({(i.source, tuple(i.sections)) for i in other}),
        "staff_answered": staff_answered,
        "adapt": report.to_dict(),
    }
    for part in ("fed_topics", "other_topics"):
        b, a = before[part].to_dict(), after[part].to_dict()
        out[part] = {"before": b, "after": a}
        if b["rank1"] is not None and a["rank1"] is not None:
            out[part]["rank1_gain"] = round(a["rank1"] - b["rank1"], 4)
    return out


def format_adapt(out: dict) -> str:
    a = out["adapt"]
    lines = [
        f"fed {out['topics_fed']} topics ({out['staff_answered']} staff answers with citations), "
        f"{out['topics_other']} other topics",
        f"adapt: {a['pairs']} pairs, held-out rank-1 {a['heldout_hit1_before']} -> {a['heldout_hit1_after']}, "
        f"{a['reason']}",
    ]
    for part, label in (("fed_topics", "(a) new wordings of fed topics"), ("other_topics", "(b) other topics")):
        b, f = out[part]["before"], out[part]["after"]
        lines.append(
            f"{label}: n={b['questions']}  rank-1 {b['rank1']} -> {f['rank1']}  "
            f"deflection {b['deflection']} -> {f['deflection']}  precision {b['precision']} -> {f['precision']}"
        )
    return "\n".join(lines)
