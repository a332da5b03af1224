"""The trained models' files: reading them and scoring with them (numpy only, milliseconds to load).

`LinearModel` is a standardized logistic regression with an optional isotonic calibration (the confidence);
`TreeModel` is gradient-boosted trees (the ranker). Both are exported from scikit-learn by eval/train.py
(`make train`) into app/retrieval/models/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_DIR = Path(__file__).parent / "models"


@dataclass(frozen=True)
class LinearModel:
    """Standardized logistic regression exported from scikit-learn, with an optional isotonic calibration."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    calib_x: np.ndarray | None = None
    calib_y: np.ndarray | None = None
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        cal = data.get("calibration") or {}
        return cls(
            features=tuple(data["features"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
            calib_x=np.asarray(cal["x"], dtype=np.float64) if cal else None,
            calib_y=np.asarray(cal["y"], dtype=np.float64) if cal else None,
            meta={k: v for k, v in data.items() if k not in ("mean", "scale", "coef", "calibration")},
        )

    def matrix(self, rows: list[dict[str, float]]) -> np.ndarray:
        return np.asarray([[r.get(name, 0.0) for name in self.features] for r in rows], dtype=np.float64)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = self.logits(x)
        if self.calib_x is not None and self.calib_y is not None:
            return np.interp(z, self.calib_x, self.calib_y)
        return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class TreeModel:
    """Gradient-boosted trees exported from scikit-learn's HistGradientBoostingClassifier: all trees padded into
    (trees × nodes) arrays, evaluated level by level for every candidate at once (a few dozen numpy operations)."""

    features: tuple[str, ...]
    feature: np.ndarray  # (T, M) int: the feature a node tests
    threshold: np.ndarray  # (T, M) float: go left when x <= threshold
    left: np.ndarray  # (T, M) int
    right: np.ndarray  # (T, M) int
    leaf: np.ndarray  # (T, M) bool
    value: np.ndarray  # (T, M) float: a leaf's contribution to the logit
    baseline: float
    depth: int
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_dict(cls, data: dict) -> TreeModel:
        trees = data["trees"]
        width = max(len(t["feature"]) for t in trees)

        def pad(key: str, fill, dtype) -> np.ndarray:
            return np.asarray([t[key] + [fill] * (width - len(t[key])) for t in trees], dtype=dtype)

        return cls(
            features=tuple(data["features"]),
            feature=pad("feature", 0, np.int64),
            threshold=pad("threshold", 0.0, np.float64),
            left=pad("left", 0, np.int64),
            right=pad("right", 0, np.int64),
            leaf=pad("leaf", True, bool),
            value=pad("value", 0.0, np.float64),
            baseline=float(data["baseline"]),
            depth=int(data["depth"]),
            meta={k: v for k, v in data.items() if k not in ("trees",)},
        )

    def matrix(self, rows: list[dict[str, float]]) -> np.ndarray:
        return np.asarray([[r.get(name, 0.0) for name in self.features] for r in rows], dtype=np.float64)

    def logits(self, x: np.ndarray) -> np.ndarray:
        t, m = self.feature.shape
        n = x.shape[0]
        flat = {
            "f": self.feature.ravel(),
            "thr": self.threshold.ravel(),
            "l": self.left.ravel(),
            "r": self.right.ravel(),
            "leaf": self.leaf.ravel(),
            "v": self.value.ravel(),
        }
        base = (np.arange(t) * m)[:, None]  # each tree's offset in the flat arrays
        rows = np.broadcast_to(np.arange(n)[None, :], (t, n))
        node = np.broadcast_to(base, (t, n)).copy()  # flat index of each candidate's current node in each tree
        for _ in range(self.depth):
            go_left = x[rows, flat["f"][node]] <= flat["thr"][node]
            step = base + np.where(go_left, flat["l"][node], flat["r"][node])
            node = np.where(flat["leaf"][node], node, step)
        return self.baseline + flat["v"][node].sum(axis=0)


def load_any(path: Path):
    """A ranker file: gradient-boosted trees ("trees") or a linear model."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return TreeModel.from_dict(data) if "trees" in data else LinearModel.load(path)


def resolve_model(name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else MODEL_DIR / name


@lru_cache(maxsize=8)
def load_model(path: str):
    return load_any(Path(path))
