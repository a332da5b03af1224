"""The training report (eval/training/REPORT.md) written by `make train` (eval/train.py)."""

from __future__ import annotations

import json
import math

from app.retrieval.learned import LinearModel, TreeModel


def render_report(summary: dict, ranker: LinearModel | TreeModel, conf: LinearModel, *, trees: dict | None) -> str:
    """`trees`: the gradient-boosting parameters when the ranker is trees (None: a linear ranker)."""
    o = summary["overall"]
    lines = [
        "# Training report (written by `make train`)",
        "",
        "Data: eval/training/ (our own fictional companies; see its README). Every wording (question + rewordings) is",
        "one training query. Cross-validation: leave one company out — every number below is on a company the models",
        "did not see. Nothing under ../shared was read.",
        "",
        "| set | questions | wordings | first-stage hit@1 | + adapter (CV) | ranker hit@1 (CV) | ranker hit@3 (CV) | right passage among candidates | confidence ROC AUC (CV) | precision @ threshold | deflection @ threshold | escalation recall |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in summary["per_set"].items():
        meta = summary["sets"][name]
        a = s["at_threshold"]
        lines.append(
            f"| {name} | {meta['questions']} | {meta['wordings']} | {s['first_stage']['hit@1']} | {s['first_stage_adapted']['hit@1']} | {s['ranker_cv']['hit@1']} | "
            f"{s['ranker_cv']['hit@3']} | {s['ranker_cv']['found_in_candidates']} | {_r(s['confidence_auc'])} | "
            f"{a['answer_precision']} | {a['deflection_rate']} | {a['escalation_recall']} |"
        )
    a = o["at_threshold"]
    lines += [
        f"| **all** | | | {o['first_stage']['hit@1']} | | {o['ranker_cv']['hit@1']} | {o['ranker_cv']['hit@3']} | "
        f"{o['ranker_cv']['found_in_candidates']} | {_r(o['confidence_auc'])} | {a['answer_precision']} | {a['deflection_rate']} | {a['escalation_recall']} |",
        "",
        "By the question's language (all companies, cross-validated): "
        + "; ".join(
            f"{lang}: first stage hit@1 {v['first_stage']['hit@1']}, ranker hit@1 {v['ranker_cv']['hit@1']} "
            f"(hit@3 {v['ranker_cv']['hit@3']}, {v['ranker_cv']['answerable_wordings']} answerable wordings)"
            for lang, v in o["by_language"].items()
        )
        + ".",
        "",
        f"Threshold rule: answer when the calibrated probability of being right is ≥ c/(1+c), a wrong answer costing c = {summary['cost_of_wrong']:g}",
        f"right ones → **{o['threshold']}** (stored in confidence.json; `MADOGUCHI_CONFIDENCE_THRESHOLD`'s default, kept equal by a test).",
        "",
        f"## Ranker ({'gradient-boosted trees ' + json.dumps(trees) if trees else 'logistic regression'}) and its features",
        "",
        "| feature | weight |",
        "| --- | --- |",
    ]
    if isinstance(ranker, LinearModel):
        lines += [f"| {f} | {c:+.3f} |" for f, c in sorted(zip(ranker.features, ranker.coef), key=lambda t: -abs(t[1]))]
    else:
        lines += [f"| {f} | (tree feature) |" for f in ranker.features]
    lines += [
        "",
        "## Confidence coefficients (standardized features, before isotonic calibration)",
        "",
        "| feature | weight |",
        "| --- | --- |",
    ]
    lines += [f"| {f} | {c:+.3f} |" for f, c in sorted(zip(conf.features, conf.coef), key=lambda t: -abs(t[1]))]
    lines += [
        "",
        "## Out-of-fold operating points",
        "",
        "| threshold | answered | precision | deflection | escalation recall |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in summary["sweep"]:
        if round(row["threshold"] * 100) % 5 == 0:
            lines.append(
                f"| {row['threshold']:.2f} | {row['answered']} | {_r(row['answer_precision'])} | {_r(row['deflection_rate'])} | {_r(row['escalation_recall'])} |"
            )
    return "\n".join(lines) + "\n"


def _r(v) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"
