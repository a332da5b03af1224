"""The deployment's confidence calibration: the threshold, and a map from the shipped model's confidence to the
probability of being right on this company's own questions.

A profile ships a default (app/data/profiles.yaml: for `offline`, the calibration `make train` produced).
`madoguchi calibrate --questions FILE` (golden-set JSONL, as `madoguchi eval qa` reads it) asks every question through
the production retrieval and confidence against the company's index, refits an isotonic map (confidence → was the
first source right) and keeps the cost rule of eval/train.py — answer when P(right) ≥ c/(1+c), c = 3 → 0.75 — so the
threshold stays 0.75 and what changes is which confidences reach it. With a reranker, a logistic layer over
[logit(confidence), the first passage's reranker z-score] comes before the isotonic map, so the reranker's score is a
feature of the confidence. It reports precision and deflection before, after (in-sample) and after under 5-fold
cross-validation (the honest estimate), and writes MADOGUCHI_DATA_DIR/calibration.json (or
MADOGUCHI_CALIBRATION_FILE), which the server loads at start-up. MADOGUCHI_CONFIDENCE_THRESHOLD, when set, overrides
the threshold. The shipped confidence model was trained with the offline models, so with any other models only a
calibration on the company's questions makes "0.75" mean "right three times in four" again.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.errors import BadRequestError
from app.profiles import get_profile

if TYPE_CHECKING:
    from app.settings import Settings

logger = logging.getLogger(__name__)

MIN_QUESTIONS = 20  # fewer labeled questions give no usable map
FOLDS = 5


@dataclass(frozen=True)
class Calibration:
    threshold: float
    x: tuple[float, ...] = ()  # isotonic map: the shipped confidence (x) → P(right) here (y); empty: identity
    y: tuple[float, ...] = ()
    made: str = ""  # when it was fitted (ISO 8601); "" for a profile default that was never fitted
    questions: int = 0
    source: str = ""  # what produced it: a profile's shipped default, or `madoguchi calibrate` and its file
    profile: str = ""
    models: dict[str, str] = field(default_factory=dict)  # embedder / reranker it was fitted with
    report: dict = field(default_factory=dict)  # precision / deflection before and after
    threshold_from_setting: bool = False  # MADOGUCHI_CONFIDENCE_THRESHOLD overrides the stored threshold
    # With a reranker: a logistic layer (w_confidence, w_rerank, bias) over [logit(shipped confidence), the first
    # passage's reranker z-score] before the isotonic map — the reranker's score as a feature of the confidence.
    # A question whose reranking timed out counts as z = 0 (no opinion: lower, so more cautious).
    rerank_weights: tuple[float, ...] = ()

    def score(self, conf: float, rerank_z: float | None = None) -> float:
        if len(self.rerank_weights) != 3:
            return conf
        w_conf, w_rerank, bias = self.rerank_weights
        z = w_conf * _logit(conf) + w_rerank * (rerank_z or 0.0) + bias
        return float(1.0 / (1.0 + np.exp(-z)))

    def apply(self, conf: float, rerank_z: float | None = None) -> float:
        s = self.score(conf, rerank_z)
        if not self.x:
            return s
        return float(np.interp(s, self.x, self.y))

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("threshold_from_setting")
        data["x"], data["y"], data["rerank_weights"] = list(self.x), list(self.y), list(self.rerank_weights)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(
            threshold=float(data["threshold"]),
            x=tuple(float(v) for v in data.get("x") or ()),
            y=tuple(float(v) for v in data.get("y") or ()),
            made=str(data.get("made") or ""),
            questions=int(data.get("questions") or 0),
            source=str(data.get("source") or ""),
            profile=str(data.get("profile") or ""),
            models={str(k): str(v) for k, v in (data.get("models") or {}).items()},
            report=dict(data.get("report") or {}),
            rerank_weights=tuple(float(v) for v in data.get("rerank_weights") or ()),
        )

    def matches(self, settings: Settings) -> bool:
        """Fitted with the models now configured (a profile default always matches its profile)."""
        if not self.models:
            return self.profile == settings.profile
        return self.models == models_of(settings)


def models_of(settings: Settings) -> dict[str, str]:
    return {"embedder": settings.embedder, "reranker": settings.reranker}


def calibration_path(settings: Settings) -> Path:
    return settings.calibration_file or settings.data_dir / "calibration.json"


def profile_default(settings: Settings) -> Calibration:
    spec = get_profile(settings.profile).calibration
    return Calibration.from_dict(
        {
            **spec,
            "threshold": spec.get("threshold", 0.75),
            "profile": settings.profile,
            "source": spec.get("source", ""),
        }
        | {"report": {"shipped": spec.get("measured", {})}}
    )


def load_calibration(settings: Settings) -> Calibration:
    """The calibration the server answers with: the fitted file when there is one, else the profile's default; an
    explicit MADOGUCHI_CONFIDENCE_THRESHOLD overrides the threshold. A file fitted with other models than the
    configured ones is still used (it is the best there is) but logged, and the console marks it."""
    path = calibration_path(settings)
    cal = profile_default(settings)
    if path.exists():
        try:
            cal = Calibration.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            logger.error(
                "calibration file %s is unreadable (%s); using the %s profile's default", path, exc, settings.profile
            )
        else:
            if not cal.matches(settings):
                logger.warning(
                    "calibration %s was fitted with %s, but %s is configured: run `madoguchi calibrate` again",
                    path,
                    cal.models,
                    models_of(settings),
                )
    if "confidence_threshold" in settings.model_fields_set:
        cal = Calibration.from_dict({**cal.to_dict(), "threshold": settings.confidence_threshold})
        cal = _with_override(cal)
    return cal


def _with_override(cal: Calibration) -> Calibration:
    object.__setattr__(cal, "threshold_from_setting", True)
    return cal


def save_calibration(cal: Calibration, path: Path) -> None:
    """Written to a temporary file and renamed: a server starting meanwhile reads the old or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(cal.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


# --- fitting ---


def isotonic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: the non-decreasing fit of y on x, as (block mean x, block mean y) knots for
    np.interp (numpy only: the server does not need scikit-learn)."""
    xs, inverse, counts = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=np.asarray(y, dtype=np.float64), minlength=len(xs))  # equal x: one point
    blocks: list[list[float]] = []  # [sum x, sum y, count]
    for xi, sy, n in zip(xs, sums, counts):
        blocks.append([xi * n, sy, float(n)])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] > blocks[-1][1] / blocks[-1][2]:
            sx, sy, n = blocks.pop()
            blocks[-1][0] += sx
            blocks[-1][1] += sy
            blocks[-1][2] += n
    kx = np.asarray([b[0] / b[2] for b in blocks])
    ky = np.clip(np.asarray([b[1] / b[2] for b in blocks]), 0.0, 1.0)
    return kx, ky


def _logit(p):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, iterations: int = 30) -> np.ndarray:
    """Weights (…, bias) of an L2-regularized logistic regression by Newton's method (numpy only; a few features)."""
    x1 = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(x1.shape[1])
    penalty = np.diag(np.r_[np.full(x1.shape[1] - 1, l2), 0.0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x1 @ w)))
        grad = x1.T @ (p - y) + penalty @ w
        hess = (x1.T * (p * (1 - p))) @ x1 + penalty + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _fit_map(conf: np.ndarray, correct: np.ndarray, rerank_z: np.ndarray | None) -> Calibration:
    """The fitted part of a calibration: the optional reranker layer, then the isotonic map."""
    weights: tuple[float, ...] = ()
    if rerank_z is not None:
        w = fit_logistic(np.column_stack([_logit(conf), rerank_z]), correct.astype(np.float64))
        weights = tuple(round(float(v), 6) for v in w)
    base = Calibration(threshold=0.0, rerank_weights=weights)
    s = np.asarray(
        [base.score(float(c), float(z)) for c, z in zip(conf, rerank_z if rerank_z is not None else conf * 0)]
    )
    kx, ky = isotonic(s, correct.astype(np.float64))
    return Calibration(
        threshold=0.0,
        rerank_weights=weights,
        x=tuple(round(float(v), 6) for v in kx),
        y=tuple(round(float(v), 6) for v in ky),
    )


def _applied(cal: Calibration, conf: np.ndarray, rerank_z: np.ndarray | None) -> np.ndarray:
    zs = rerank_z if rerank_z is not None else [None] * len(conf)
    return np.asarray([cal.apply(float(c), None if z is None else float(z)) for c, z in zip(conf, zs)])


def operating_point(prob: np.ndarray, correct: np.ndarray, answerable: np.ndarray, threshold: float) -> dict:
    """Precision of the answered questions and deflection (right answers / answerable questions), as eval/train.py
    and `madoguchi eval qa` define them."""
    answered = prob >= threshold
    n = int(answered.sum())
    return {
        "answered": n,
        "precision": round(float(correct[answered].mean()), 4) if n else None,
        "deflection": round(float((correct & answered).sum() / max(1, int(answerable.sum()))), 4),
    }


def cost_threshold() -> float:
    from eval.train import COST_OF_WRONG, choose_threshold  # the one cost rule, shared with `make train`

    return choose_threshold(COST_OF_WRONG)


def fit_calibration(
    conf: np.ndarray,
    correct: np.ndarray,
    answerable: np.ndarray,
    *,
    current: Calibration,
    settings: Settings,
    source: str,
    rerank_z: np.ndarray | None = None,
) -> Calibration:
    """Refit on (shipped confidence[, first passage's reranker z-score], right or not); the threshold is the cost
    rule's. `rerank_z` (with a reranker configured) adds the logistic layer before the isotonic map."""
    n = len(conf)
    if n < MIN_QUESTIONS:
        raise BadRequestError(
            f"{n} labeled questions are too few to calibrate; at least {MIN_QUESTIONS} are needed.",
            f"ラベル付きの質問が {n} 件では少なすぎます。校正には {MIN_QUESTIONS} 件以上が必要です。",
            code="too_few_questions",
        )
    threshold = cost_threshold()
    before_prob = _applied(current, conf, rerank_z)
    fitted = _fit_map(conf, correct, rerank_z)
    after_prob = _applied(fitted, conf, rerank_z)
    oof = np.zeros(n)
    for fold in range(FOLDS):
        test = np.arange(n) % FOLDS == fold
        part = _fit_map(conf[~test], correct[~test], None if rerank_z is None else rerank_z[~test])
        oof[test] = _applied(part, conf[test], None if rerank_z is None else rerank_z[test])
    report = {
        "before": operating_point(before_prob, correct, answerable, current.threshold),
        "after_in_sample": operating_point(after_prob, correct, answerable, threshold),
        "after_cross_validated": operating_point(oof, correct, answerable, threshold),
        "right_at_rank_1": round(float(correct.sum() / max(1, int(answerable.sum()))), 4),
        "answerable": int(answerable.sum()),
    }
    return Calibration(
        threshold=threshold,
        x=fitted.x,
        y=fitted.y,
        rerank_weights=fitted.rerank_weights,
        made=datetime.now(UTC).isoformat(timespec="seconds"),
        questions=n,
        source=source,
        profile=settings.profile,
        models=models_of(settings),
        report=report,
    )


def calibrate(*, services, questions: Path) -> Calibration:
    """Ask every labeled question through the production retrieval and confidence (nothing recorded) and fit; the
    caller saves the result. Right = the first source is the labeled one (as `madoguchi eval qa`'s hit@1)."""
    from app.answer import confidence_of, params_for, retrieve
    from app.retrieval.rerank import rerank_z_of
    from eval.datasets import read_golden
    from eval.metrics import source_matches

    golden = read_golden(questions)
    current = services.calibration or profile_default(services.settings)
    params = params_for(services.settings)
    conf, correct, answerable, zs = [], [], [], []
    for item in golden:
        r = retrieve(item.question, services=services, k=services.settings.top_k, params=params)
        conf.append(confidence_of(r, params))  # the shipped model's confidence: what the map acts on
        top = r.passages[0].top.chunk if r.passages else None
        right = (
            top is not None
            and item.answerable
            and source_matches(top.source, top.section, source=item.source, sections=item.sections)
        )
        correct.append(right)
        answerable.append(item.answerable)
        zs.append(rerank_z_of(r))
    with_reranker = services.reranker is not None
    return fit_calibration(
        np.asarray(conf, dtype=np.float64),
        np.asarray(correct, dtype=bool),
        np.asarray(answerable, dtype=bool),
        current=current,
        settings=services.settings,
        source=f"madoguchi calibrate ({questions.name})",
        rerank_z=np.asarray([z or 0.0 for z in zs], dtype=np.float64) if with_reranker else None,
    )
