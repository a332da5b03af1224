"""`make train` (`python -m eval.train`): fit the ranker and the confidence model on OUR training data.

Training data (eval/training/, see its README): fictional companies' regulations in several formats and questions
written as employees type them, each with two rewordings. Nothing under ../shared is read here.

1. For every training set, ingest its documents into a temporary store (the production ingest) and ask every
   wording through the production first stage (`retrieve(..., second_stage=False)`); every candidate passage gets
   the ranker's features (`ranking.passage_features`) and a label: does it cite the expected source and section?
2. Query adapter (eval/adapter.py) on the same candidates, then the ranker: gradient-boosted trees (scikit-learn's
   HistGradientBoosting, exported to JSON) on the candidates of answerable questions. Both are evaluated with
   grouped cross-validation — leave one company out, the held-out company's adapter and ranker trained without
   it — against the first stage's fused order.
3. Confidence: the held-out ranker orders each held-out company's candidates; "is the first one right?" (always
   no for unanswerable questions) is fitted by logistic regression on `ranking.confidence_features`, again leave
   one company out, and calibrated by isotonic regression on the out-of-fold scores.
4. Threshold rule (documented in `choose_threshold`): answer when the calibrated probability of being right is at
   least c/(1+c), a wrong answer costing COST_OF_WRONG right ones; its out-of-fold operating point is reported.
5. Writes app/retrieval/models/{adapter.npz,ranker.json,confidence.json} (rounded, so the same data gives the same bytes) and the
   training report eval/training/REPORT.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from app.retrieval.adapter import load_adapter
from app.retrieval.learned import MODEL_DIR, LinearModel, TreeModel
from app.retrieval.ranking import CONF_FEATURES, RANK_FEATURES, RankParams, confidence_features, passage_features
from app.retrieval.tokenizer import is_japanese
from app.settings import Settings, get_settings
from eval.adapter import fit_adapter, pairs_of
from eval.datasets import read_jsonl
from eval.metrics import source_matches
from eval.train_report import render_report
from eval.workspace import temp_services

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SETS_FILE = ROOT / "eval" / "training" / "sets.yaml"
REPORT = ROOT / "eval" / "training" / "REPORT.md"
COST_OF_WRONG = 3.0  # a wrong answer costs three right ones: answer when P(right) >= 0.75
C_RANKER = 1.0
RANKER = "trees"  # "trees" (HistGradientBoosting) or "linear"
TREES = {"max_iter": 150, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 40, "l2_regularization": 1.0}
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
    query: Any = None  # ranking.Query
    passages: list = field(default_factory=list)
    snapshot: Any = None  # index.Snapshot


def load_sets(path: Path = SETS_FILE) -> list[dict]:
    sets = yaml.safe_load(path.read_text(encoding="utf-8"))
    for s in sets:
        s["docs"] = ROOT / s["docs"]
        s["questions"] = ROOT / s["questions"]
        s.setdefault("name", s["questions"].stem)
        s.setdefault("group", s["name"])  # variants of one company share a group: CV leaves the whole group out
        s["exclude"] = set(s.get("exclude") or [])
    return sets


@contextlib.contextmanager
def ingested(settings: Settings, sets: list[dict]):
    """Each set's documents ingested once into its own temporary store: {name: (services, question rows)}."""
    with contextlib.ExitStack() as stack:
        out = {}
        for s in sets:
            started = time.perf_counter()
            services = stack.enter_context(temp_services(settings))
            if s["exclude"]:  # a variant without some files (e.g. no FAQ sheet): their questions are left out too
                files = sorted(p for p in s["docs"].iterdir() if p.is_file() and p.name not in s["exclude"])
                services.ingest(paths=files)
            else:
                services.ingest(paths=[s["docs"]])
            rows = [r for r in read_jsonl(s["questions"]) if r.get("source") not in s["exclude"]]
            out[s["name"]] = (services, rows)
            logger.info("%s: ingested in %.0f s", s["name"], time.perf_counter() - started)
        yield out


def collect(stores: dict, params: RankParams) -> list[Example]:
    """Every wording of every question through the production first stage, with the ranker's features."""
    from app.answer import retrieve

    out: list[Example] = []
    for name, (services, rows) in stores.items():
        for row in rows:
            sections = _sections(row.get("section"))
            wordings = [row["question"]] + [w for w in row.get("rewordings") or [] if w and w.strip()]
            for n, text in enumerate(wordings):
                r = retrieve(text, services=services, k=params.candidates, params=params, second_stage=False)
                passage_features(r.query, r.passages, snapshot=r.snapshot, params=params)
                ex = Example(
                    set=name,
                    item=str(row["id"]),
                    wording=n,
                    answerable=bool(row["answerable"]),
                    query=r.query,
                    passages=r.passages,
                    snapshot=r.snapshot,
                )
                for p in r.passages:
                    c = p.top.chunk
                    ok = bool(row["answerable"]) and (
                        source_matches(c.source, c.section, source=row.get("source"), sections=sections)
                        or cites(p.text, source=row.get("source"), sections=sections)
                        or any(
                            source_matches(
                                c.source, c.section, source=alt.get("source"), sections=_sections(alt.get("section"))
                            )
                            for alt in row.get("also_in") or []
                        )
                    )
                    ex.cand.append(dict(p.features))
                    ex.labels.append(int(ok))
                out.append(ex)
    return out


def _sections(section) -> list[str]:
    return [section] if isinstance(section, str) else [str(x) for x in (section or [])]


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
    return LinearModel(
        features=tuple(features),
        mean=r(mean),
        scale=r(scale),
        coef=r(coef),
        intercept=float(f"{intercept:.{DIGITS}g}"),
        meta=meta,
    )


def _ranker_data(examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray([[c[f] for f in RANK_FEATURES] for e in examples if e.answerable and any(e.labels) for c in e.cand])
    y = np.asarray([lab for e in examples if e.answerable and any(e.labels) for lab in e.labels])
    return x, y


def fit_ranker(examples: list[Example], kind: str | None = None):
    """The second stage: gradient-boosted trees (default) or a standardized logistic regression."""
    x, y = _ranker_data(examples)
    if (kind or RANKER) == "linear":
        return _model(RANK_FEATURES, _fit_lr(x, y, C_RANKER))
    return TreeModel.from_dict(_fit_trees(x, y))


def _fit_trees(x: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(early_stopping=False, random_state=0, **TREES).fit(x, y)
    trees = []
    depth = 1
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        depth = max(depth, int(nodes["depth"].max()) + 1)
        trees.append(
            {
                "feature": [int(v) for v in nodes["feature_idx"]],
                "threshold": [float(f"{v:.{DIGITS + 3}g}") for v in nodes["num_threshold"]],
                "left": [int(v) for v in nodes["left"]],
                "right": [int(v) for v in nodes["right"]],
                "leaf": [bool(v) for v in nodes["is_leaf"]],
                "value": [float(f"{v:.{DIGITS + 3}g}") for v in nodes["value"]],
            }
        )
    return {
        "features": list(RANK_FEATURES),
        "baseline": float(np.ravel(model._baseline_prediction)[0]),
        "depth": depth,
        "params": TREES,
        "trees": trees,
    }


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


def _by_language(examples: list[Example]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {"ja": [], "en": []}
    for i, e in enumerate(examples):
        out["ja" if is_japanese(e.query.text) else "en"].append(i)
    return out


def hits_at(examples: list[Example], orders: dict[int, list[int]]) -> dict:
    ans = [i for i, e in enumerate(examples) if e.answerable]
    first = [any(examples[i].labels[j] for j in orders[i][:1]) for i in ans]
    three = [any(examples[i].labels[j] for j in orders[i][:3]) for i in ans]
    ten = [any(examples[i].labels) for i in ans]
    return {
        "hit@1": round(float(np.mean(first)), 4) if ans else None,
        "hit@3": round(float(np.mean(three)), 4) if ans else None,
        "found_in_candidates": round(float(np.mean(ten)), 4) if ans else None,
        "answerable_wordings": len(ans),
    }


def operating_points(prob: np.ndarray, correct: np.ndarray, answerable: np.ndarray) -> list[dict]:
    rows = []
    for t in np.round(np.arange(0.0, 1.0001, 0.01), 2):
        answered = prob >= t
        n = int(answered.sum())
        rows.append(
            {
                "threshold": float(t),
                "answered": n,
                "answer_precision": float(correct[answered].mean()) if n else None,
                "deflection_rate": float((correct & answered).sum() / max(1, answerable.sum())),
                "escalation_recall": float((~answered & ~answerable).sum() / max(1, (~answerable).sum())),
            }
        )
    return rows


def choose_threshold(cost_of_wrong: float = COST_OF_WRONG) -> float:
    """The documented rule: answer when the calibrated probability of being right is at least c / (1 + c), where a
    wrong answer costs c times what a right one saves (an escalation costs nothing but the staff's time). That
    maximises (right answers − c × wrong answers) when the confidence is calibrated, which isotonic regression on
    out-of-fold scores makes it."""
    return round(cost_of_wrong / (1.0 + cost_of_wrong), 2)


def roc_auc(y: np.ndarray, s: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else None


def train(
    settings: Settings,
    *,
    params: RankParams,
    sets_file: Path = SETS_FILE,
    out_dir: Path = MODEL_DIR,
    report: Path = REPORT,
) -> dict:
    from sklearn.isotonic import IsotonicRegression

    sets = load_sets(sets_file)
    names = [s["name"] for s in sets]
    group_of = {s["name"]: s["group"] for s in sets}
    groups = list(dict.fromkeys(group_of.values()))
    cv_orders: dict[int, list[int]] = {}
    conf_rows: dict[int, tuple[dict, int]] = {}
    first_adapted: dict[str, dict] = {}
    cv_examples: dict[int, Example] = {}
    per_set = {}
    tmp = Path(tempfile.mkdtemp(prefix="madoguchi-train-"))
    with ingested(settings, sets) as stores:
        embedder = next(iter(stores.values()))[0].embedder.name
        raw = collect(stores, dataclasses.replace(params, adapter="", depth=max(params.depth, 50), candidates=40))
        base = collect(stores, dataclasses.replace(params, adapter=""))
        for held in groups:
            adapter = fit_adapter(pairs_of([e for e in raw if group_of[e.set] != held]), embedder=embedder)
            adapter.save(tmp / f"adapter-{held}.npz")
            fold = collect(stores, dataclasses.replace(params, adapter=str(tmp / f"adapter-{held}.npz")))
            model = fit_ranker([e for e in fold if group_of[e.set] != held])
            held_ex = [(i, e) for i, e in enumerate(fold) if group_of[e.set] == held]
            for name in names:
                mine = [e for _, e in held_ex if e.set == name]
                if mine:
                    first_adapted[name] = hits_at(mine, {k: list(range(len(e.cand))) for k, e in enumerate(mine)})
            for i, e in held_ex:
                cv_orders[i] = ranked(e, model)
                conf_rows[i] = conf_row(e, cv_orders[i])
                cv_examples[i] = e
        examples = [cv_examples[i] for i in range(len(cv_examples))]  # each from the fold that held its set out
        final_adapter = fit_adapter(pairs_of(raw), embedder=embedder)
        out_dir.mkdir(parents=True, exist_ok=True)
        final_adapter.save(out_dir / params.adapter)
        load_adapter.cache_clear()
        final = collect(stores, dataclasses.replace(params, adapter=str(out_dir / params.adapter)))
        ranker = fit_ranker(final)
    base_orders = {i: list(range(len(e.cand))) for i, e in enumerate(base)}
    # confidence: leave one company out over the out-of-fold ranker's candidates
    idx = sorted(conf_rows)
    xc = np.asarray([[conf_rows[i][0][f] for f in CONF_FEATURES] for i in idx])
    yc = np.asarray([conf_rows[i][1] for i in idx])
    sets_of = np.asarray([examples[i].set for i in idx])
    groups_of = np.asarray([group_of[examples[i].set] for i in idx])
    oof = np.zeros(len(idx))
    for held in groups:
        m = groups_of == held
        cm = _model(CONF_FEATURES, _fit_lr(xc[~m], yc[~m], C_CONF))
        oof[m] = cm.logits(xc[m])
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(oof, yc)
    prob = iso.predict(oof)
    answerable = np.asarray([examples[i].answerable for i in idx])
    rows = operating_points(prob, yc.astype(bool), answerable)
    threshold = choose_threshold()
    for held in names:
        sel = {i: o for i, o in cv_orders.items() if examples[i].set == held}
        sub = [examples[i] for i in sorted(sel)]
        m = sets_of == held
        per_set[held] = {
            "ranker_cv": hits_at(sub, {k: sel[i] for k, i in enumerate(sorted(sel))}),
            "first_stage": hits_at(
                [base[i] for i in sorted(sel)], {k: base_orders[i] for k, i in enumerate(sorted(sel))}
            ),
            "first_stage_adapted": first_adapted[held],
            "confidence_auc": roc_auc(yc[m], oof[m]),
            "at_threshold": _at(prob[m], yc[m].astype(bool), answerable[m], threshold),
        }
    # final confidence model on every out-of-fold row
    final_conf = _fit_lr(xc, yc, C_CONF)
    conf_model = _model(CONF_FEATURES, final_conf)
    xs = [float(f"{v:.{DIGITS}g}") for v in iso.X_thresholds_]
    ys = [float(f"{v:.{DIGITS}g}") for v in iso.y_thresholds_]
    summary: dict[str, Any] = {
        "sets": {
            s["name"]: {
                "questions": sum(1 for e in examples if e.set == s["name"] and e.wording == 0),
                "wordings": sum(1 for e in examples if e.set == s["name"]),
            }
            for s in sets
        },
        "per_set": per_set,
        "overall": {
            "ranker_cv": hits_at(examples, cv_orders),
            "first_stage": hits_at(base, base_orders),
            "by_language": {
                lang: {
                    "first_stage": hits_at([base[i] for i in sel], {k: base_orders[i] for k, i in enumerate(sel)}),
                    "ranker_cv": hits_at([examples[i] for i in sel], {k: cv_orders[i] for k, i in enumerate(sel)}),
                }
                for lang, sel in _by_language(examples).items()
            },
            "confidence_auc": roc_auc(yc, oof),
            "threshold": threshold,
            "at_threshold": _at(prob, yc.astype(bool), answerable, threshold),
        },
        "cost_of_wrong": COST_OF_WRONG,
        "sweep": rows,
    }
    if isinstance(ranker, TreeModel):
        data = {**_fit_trees(*_ranker_data(final)), "trained_on": names, "cv": summary["overall"]["ranker_cv"]}
        (out_dir / params.ranker).write_text(
            json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
        )
    else:
        _write(out_dir / params.ranker, ranker, extra={"trained_on": names, "cv": summary["overall"]["ranker_cv"]})
    _write(
        out_dir / params.confidence,
        conf_model,
        extra={"trained_on": names, "threshold": threshold},
        calibration={"x": xs, "y": ys},
    )
    report.write_text(
        render_report(summary, ranker, conf_model, trees=TREES if RANKER == "trees" else None), encoding="utf-8"
    )
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
    data = {
        "features": list(model.features),
        "mean": model.mean.tolist(),
        "scale": model.scale.tolist(),
        "coef": model.coef.tolist(),
        "intercept": model.intercept,
        **extra,
    }
    if calibration:
        data["calibration"] = calibration
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.train", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--sets", type=Path, default=SETS_FILE, help="training sets (YAML; default eval/training/sets.yaml)"
    )
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
