"""`make train` (`python -m eval.train`): fit the ranker and the confidence model on OUR training data.

Training data (eval/training/, see its README): fictional companies' regulations in several formats and questions
written as employees type them, each with two rewordings. Nothing under ../shared is read here.

1. For every training set, ingest its documents into a temporary store (the production ingest) and ask every
   wording through the production first stage (`retrieve(..., second_stage=False)`); every candidate passage gets
   the ranker's features (`ranking.passage_features`) and a label: does it cite the expected source and section?
2. Ranker: standardized logistic regression on the candidates of answerable questions, evaluated with grouped
   cross-validation (leave one company out) against the first stage's fused order.
3. Confidence: the held-out ranker orders each held-out company's candidates; "is the first one right?" (always
   no for unanswerable questions) is fitted by logistic regression on `ranking.confidence_features`, again leave
   one company out, and calibrated by isotonic regression on the out-of-fold scores.
4. Threshold rule (documented, applied to the out-of-fold predictions only): the lowest threshold at which the
   answers' precision is ≥ TARGET_PRECISION and stays so above it.
5. Writes app/retrieval/models/{ranker,confidence}.json (rounded, so the same data gives the same bytes) and the
   training report eval/training/REPORT.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from app.retrieval.ranking import (
    CONF_FEATURES,
    MODEL_DIR,
    RANK_FEATURES,
    LinearModel,
    RankParams,
    confidence_features,
    passage_features,
)
from app.settings import Settings, get_settings
from eval.datasets import read_jsonl
from eval.metrics import source_matches
from eval.workspace import temp_services

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SETS_FILE = ROOT / "eval" / "training" / "sets.yaml"
REPORT = ROOT / "eval" / "training" / "REPORT.md"
TARGET_PRECISION = 0.95
C_RANKER = 1.0
C_CONF = 1.0
DIGITS = 6


@dataclass
class Example:
    """One wording of one question, with its candidate passages' features and labels."""

    set: str
    item: str
    wording: int
    answerable: bool
    cand: list[dict] = field(default_factory=list)  # features per candidate (first-stage order)
    labels: list[int] = field(default_factory=list)
    query: object = None
    passages: list = field(default_factory=list)
    snapshot: object = None


def load_sets(path: Path = SETS_FILE) -> list[dict]:
    sets = yaml.safe_load(path.read_text(encoding="utf-8"))
    for s in sets:
        s["docs"] = ROOT / s["docs"]
        s["questions"] = ROOT / s["questions"]
        s.setdefault("name", s["questions"].stem)
    return sets


def collect(settings: Settings, sets: list[dict], params: RankParams) -> list[Example]:
    from app.answer import retrieve

    out: list[Example] = []
    for s in sets:
        started = time.perf_counter()
        rows = read_jsonl(s["questions"])
        with temp_services(settings) as services:
            services.ingest(paths=[s["docs"]])
            for row in rows:
                section = row.get("section")
                sections = [section] if isinstance(section, str) else [str(x) for x in (section or [])]
                wordings = [row["question"]] + [w for w in row.get("rewordings") or [] if w and w.strip()]
                for n, text in enumerate(wordings):
                    r = retrieve(text, services=services, k=params.candidates, params=params, second_stage=False)
                    passage_features(r.query, r.passages, snapshot=r.snapshot, params=params)
                    ex = Example(set=s["name"], item=str(row["id"]), wording=n, answerable=bool(row["answerable"]),
                                 query=r.query, passages=r.passages, snapshot=r.snapshot)
                    for p in r.passages:
                        c = p.top.chunk
                        ok = bool(row["answerable"]) and (
                            source_matches(c.source, c.section, source=row.get("source"), sections=sections)
                            or cites(p.text, source=row.get("source"), sections=sections)
                        )
                        ex.cand.append(dict(p.features))
                        ex.labels.append(int(ok))
                    out.append(ex)
        logger.info("%s: %d questions, %d wordings in %.0f s", s["name"], len(rows),
                    sum(1 for e in out if e.set == s["name"]), time.perf_counter() - started)
    return out


def cites(text: str, *, source: str | None, sections: list[str]) -> bool:
    """A passage that quotes the expected article by name (an FAQ answer or a guide ending in 「（勤怠管理規程 第11条）」)
    answers the question too: labelled right in training, so the ranker is not taught to bury curated answers."""
    if not source or not sections:
        return False
    stem = Path(source).stem
    flat = "".join(text.split())
    return stem in flat and any(s and "".join(s.split()) in flat and s.startswith("第") for s in sections)


def _fit_lr(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 1e-9, scaler.scale_, 1.0)
    lr = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit((x - scaler.mean_) / scale, y)
    return scaler.mean_, scale, lr.coef_[0], float(lr.intercept_[0])


def _model(features, fitted, **meta) -> LinearModel:
    mean, scale, coef, intercept = fitted
    r = lambda a: np.asarray([float(f"{v:.{DIGITS}g}") for v in a])  # noqa: E731
    return LinearModel(features=tuple(features), mean=r(mean), scale=r(scale), coef=r(coef),
                       intercept=float(f"{intercept:.{DIGITS}g}"), meta=meta)


def fit_ranker(examples: list[Example]) -> LinearModel:
    x = np.asarray([[c[f] for f in RANK_FEATURES] for e in examples if e.answerable and any(e.labels) for c in e.cand])
    y = np.asarray([lab for e in examples if e.answerable and any(e.labels) for lab in e.labels])
    return _model(RANK_FEATURES, _fit_lr(x, y, C_RANKER))


def ranked(e: Example, model: LinearModel) -> list[int]:
    if not e.cand:
        return []
    scores = model.logits(model.matrix(e.cand))
    order = sorted(range(len(e.cand)), key=lambda i: (-scores[i], i))
    for p, s in zip(e.passages, scores):
        p.rank_score = float(s)
    return order


def conf_row(e: Example, order: list[int]) -> tuple[dict, int]:
    passages = [e.passages[i] for i in order]
    feats = confidence_features(e.query, passages, snapshot=e.snapshot)
    return feats, int(bool(order) and e.labels[order[0]] == 1)


def hits_at(examples: list[Example], orders: dict[int, list[int]]) -> dict:
    ans = [i for i, e in enumerate(examples) if e.answerable]
    first = [any(examples[i].labels[j] for j in orders[i][:1]) for i in ans]
    three = [any(examples[i].labels[j] for j in orders[i][:3]) for i in ans]
    ten = [any(examples[i].labels) for i in ans]
    return {"hit@1": round(float(np.mean(first)), 4) if ans else None, "hit@3": round(float(np.mean(three)), 4) if ans else None,
            "found_in_candidates": round(float(np.mean(ten)), 4) if ans else None, "answerable_wordings": len(ans)}


def operating_points(prob: np.ndarray, correct: np.ndarray, answerable: np.ndarray) -> list[dict]:
    rows = []
    for t in np.round(np.arange(0.0, 1.0001, 0.01), 2):
        answered = prob >= t
        n = int(answered.sum())
        rows.append({
            "threshold": float(t), "answered": n,
            "answer_precision": float(correct[answered].mean()) if n else None,
            "deflection_rate": float((correct & answered).sum() / max(1, answerable.sum())),
            "escalation_recall": float((~answered & ~answerable).sum() / max(1, (~answerable).sum())),
        })
    return rows


def choose_threshold(rows: list[dict], target: float = TARGET_PRECISION) -> float:
    """The lowest threshold whose precision is ≥ target at it and at every higher threshold that answers ≥ 20."""
    ok = None
    for row in reversed(rows):
        if row["answer_precision"] is None or row["answered"] < 20:
            continue
        if row["answer_precision"] < target:
            break
        ok = row["threshold"]
    return ok if ok is not None else 0.9


def roc_auc(y: np.ndarray, s: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else None


def train(settings: Settings, *, params: RankParams, sets_file: Path = SETS_FILE, out_dir: Path = MODEL_DIR,
          report: Path = REPORT) -> dict:
    from sklearn.isotonic import IsotonicRegression

    sets = load_sets(sets_file)
    examples = collect(settings, sets, params)
    names = [s["name"] for s in sets]
    base_orders = {i: list(range(len(e.cand))) for i, e in enumerate(examples)}
    cv_orders: dict[int, list[int]] = {}
    conf_rows: dict[int, tuple[dict, int]] = {}
    per_set = {}
    for held in names:
        train_ex = [e for e in examples if e.set != held]
        model = fit_ranker(train_ex)
        for i, e in enumerate(examples):
            if e.set == held:
                cv_orders[i] = ranked(e, model)
                conf_rows[i] = conf_row(e, cv_orders[i])
    # confidence: leave one company out over the out-of-fold ranker's candidates
    idx = sorted(conf_rows)
    xc = np.asarray([[conf_rows[i][0][f] for f in CONF_FEATURES] for i in idx])
    yc = np.asarray([conf_rows[i][1] for i in idx])
    sets_of = np.asarray([examples[i].set for i in idx])
    oof = np.zeros(len(idx))
    for held in names:
        m = sets_of == held
        cm = _model(CONF_FEATURES, _fit_lr(xc[~m], yc[~m], C_CONF))
        oof[m] = cm.logits(xc[m])
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(oof, yc)
    prob = iso.predict(oof)
    answerable = np.asarray([examples[i].answerable for i in idx])
    rows = operating_points(prob, yc.astype(bool), answerable)
    threshold = choose_threshold(rows)
    for held in names:
        sel = {i: o for i, o in cv_orders.items() if examples[i].set == held}
        sub = [examples[i] for i in sorted(sel)]
        m = sets_of == held
        per_set[held] = {
            "ranker_cv": hits_at(sub, {k: sel[i] for k, i in enumerate(sorted(sel))}),
            "first_stage": hits_at(sub, {k: base_orders[i] for k, i in enumerate(sorted(sel))}),
            "confidence_auc": roc_auc(yc[m], oof[m]),
            "at_threshold": _at(prob[m], yc[m].astype(bool), answerable[m], threshold),
        }
    # final models on everything
    ranker = fit_ranker(examples)
    final_conf = _fit_lr(xc, yc, C_CONF)
    conf_model = _model(CONF_FEATURES, final_conf)
    xs = [float(f"{v:.{DIGITS}g}") for v in iso.X_thresholds_]
    ys = [float(f"{v:.{DIGITS}g}") for v in iso.y_thresholds_]
    summary = {
        "sets": {s["name"]: {"questions": sum(1 for e in examples if e.set == s["name"] and e.wording == 0),
                             "wordings": sum(1 for e in examples if e.set == s["name"])} for s in sets},
        "per_set": per_set,
        "overall": {
            "ranker_cv": hits_at(examples, cv_orders),
            "first_stage": hits_at(examples, base_orders),
            "confidence_auc": roc_auc(yc, oof),
            "threshold": threshold,
            "at_threshold": _at(prob, yc.astype(bool), answerable, threshold),
        },
        "target_precision": TARGET_PRECISION,
        "sweep": rows,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / params.ranker, ranker, extra={"trained_on": names, "cv": summary["overall"]["ranker_cv"]})
    _write(out_dir / params.confidence, conf_model, extra={"trained_on": names, "threshold": threshold},
           calibration={"x": xs, "y": ys})
    report.write_text(render_report(summary, ranker, conf_model), encoding="utf-8")
    return summary


def _at(prob, correct, answerable, t) -> dict:
    answered = prob >= t
    n = int(answered.sum())
    return {
        "answer_precision": round(float(correct[answered].mean()), 4) if n else None,
        "deflection_rate": round(float((correct & answered).sum() / max(1, answerable.sum())), 4),
        "escalation_recall": round(float((~answered & ~answerable).sum() / max(1, (~answerable).sum())), 4),
        "answered": n,
    }


def _write(path: Path, model: LinearModel, *, extra: dict, calibration: dict | None = None) -> None:
    data = {"features": list(model.features), "mean": model.mean.tolist(), "scale": model.scale.tolist(),
            "coef": model.coef.tolist(), "intercept": model.intercept, **extra}
    if calibration:
        data["calibration"] = calibration
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def render_report(summary: dict, ranker: LinearModel, conf: LinearModel) -> str:
    o = summary["overall"]
    lines = [
        "# Training report (written by `make train`)",
        "",
        "Data: eval/training/ (our own fictional companies; see its README). Every wording (question + rewordings) is",
        "one training query. Cross-validation: leave one company out — every number below is on a company the models",
        "did not see. Nothing under ../shared was read.",
        "",
        "| set | questions | wordings | first-stage hit@1 | ranker hit@1 (CV) | ranker hit@3 (CV) | right passage among candidates | confidence ROC AUC (CV) | precision @ threshold | deflection @ threshold | escalation recall |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in summary["per_set"].items():
        meta = summary["sets"][name]
        a = s["at_threshold"]
        lines.append(
            f"| {name} | {meta['questions']} | {meta['wordings']} | {s['first_stage']['hit@1']} | {s['ranker_cv']['hit@1']} | "
            f"{s['ranker_cv']['hit@3']} | {s['ranker_cv']['found_in_candidates']} | {_r(s['confidence_auc'])} | "
            f"{a['answer_precision']} | {a['deflection_rate']} | {a['escalation_recall']} |"
        )
    a = o["at_threshold"]
    lines += [
        f"| **all** | | | {o['first_stage']['hit@1']} | {o['ranker_cv']['hit@1']} | {o['ranker_cv']['hit@3']} | "
        f"{o['ranker_cv']['found_in_candidates']} | {_r(o['confidence_auc'])} | {a['answer_precision']} | {a['deflection_rate']} | {a['escalation_recall']} |",
        "",
        f"Threshold rule: the lowest threshold whose out-of-fold answer precision is ≥ {summary['target_precision']} there and at",
        f"every higher threshold answering ≥ 20 wordings → **{o['threshold']}** (stored in confidence.json; the server's default).",
        "",
        "## Ranker coefficients (standardized features)",
        "",
        "| feature | weight |",
        "| --- | --- |",
    ]
    lines += [f"| {f} | {c:+.3f} |" for f, c in sorted(zip(ranker.features, ranker.coef), key=lambda t: -abs(t[1]))]
    lines += ["", "## Confidence coefficients (standardized features, before isotonic calibration)", "", "| feature | weight |", "| --- | --- |"]
    lines += [f"| {f} | {c:+.3f} |" for f, c in sorted(zip(conf.features, conf.coef), key=lambda t: -abs(t[1]))]
    lines += ["", "## Out-of-fold operating points", "", "| threshold | answered | precision | deflection | escalation recall |", "| --- | --- | --- | --- | --- |"]
    for row in summary["sweep"]:
        if round(row["threshold"] * 100) % 5 == 0:
            lines.append(f"| {row['threshold']:.2f} | {row['answered']} | {_r(row['answer_precision'])} | {_r(row['deflection_rate'])} | {_r(row['escalation_recall'])} |")
    return "\n".join(lines) + "\n"


def _r(v) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.train", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--sets", type=Path, default=SETS_FILE, help="training sets (YAML; default eval/training/sets.yaml)")
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="where the model files go")
    parser.add_argument("--report", type=Path, default=REPORT, help="where the training report goes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    summary = train(get_settings(), params=RankParams(), sets_file=args.sets, out_dir=args.out, report=args.report)
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "sweep"}, ensure_ascii=False, indent=1))
    else:
        print(args.report.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
