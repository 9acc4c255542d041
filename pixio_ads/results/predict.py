"""Does the pre-launch score predict results? Rank correlations, and weights fitted to them.

For creatives with at least ``min_impressions``, Spearman's rank correlation between each
score component (scoring.py) and the observed click-through rate, and the combined score's.
``learn_weights`` fits non-negative weights of the components to the click-through rate
(ridge-regularised non-negative least squares on standardised components), reports how well
the fitted score ranks the creatives (Spearman, in-sample and by k-fold cross-validation:
the honest figure) and writes them as a brand kit's ``scoring.weights``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import nnls
from scipy.stats import spearmanr

from pixio_ads.core.fileio import atomic_write_bytes
from pixio_ads.creative.scoring import COMPONENTS
from pixio_ads.results.winners import MIN_IMPRESSIONS

RIDGE = 1.0  # regularisation of the fitted weights
FOLDS = 5


@dataclass(frozen=True, slots=True)
class Correlation:
    name: str  # a component, or "score"
    creatives: int
    spearman: float | None  # None: too few creatives, or a constant column
    p_value: float | None


@dataclass(frozen=True, slots=True)
class LearnedWeights:
    weights: dict[str, float]  # component -> weight, summing to 1
    creatives: int
    spearman_in_sample: float | None
    spearman_cross_validated: float | None


def _usable(rows: list[dict], min_impressions: int) -> list[dict]:
    return [row for row in rows if (row["impressions"] or 0) >= min_impressions]


def correlations(rows: list[dict], min_impressions: int = MIN_IMPRESSIONS) -> list[Correlation]:
    usable = _usable(rows, min_impressions)
    ctr = [row["ctr"] for row in usable]
    result = []
    for name in (*COMPONENTS, "score"):
        column = name if name == "score" else f"{name}_score"
        pairs = [(row[column], rate) for row, rate in zip(usable, ctr) if row.get(column) is not None]
        result.append(Correlation(name, len(pairs), *_spearman(pairs)))
    return result


def _spearman(pairs: list[tuple[float, float]]) -> tuple[float | None, float | None]:
    if len(pairs) < 3 or len({a for a, _ in pairs}) < 2 or len({b for _, b in pairs}) < 2:
        return None, None
    found = spearmanr([a for a, _ in pairs], [b for _, b in pairs])
    return float(found.statistic), float(found.pvalue)


def learn_weights(rows: list[dict], min_impressions: int = MIN_IMPRESSIONS, seed: int = 0) -> LearnedWeights:
    """Weights of the components that apply to every usable creative, fitted to its CTR."""
    usable = _usable(rows, min_impressions)
    names = [n for n in COMPONENTS if usable and all(row.get(f"{n}_score") is not None for row in usable)]
    if len(usable) < FOLDS or not names:
        raise ValueError(
            f"{len(usable)} creative(s) have {min_impressions:,}+ impressions and scores: too few to fit weights "
            f"(at least {FOLDS}); wait for more results or lower --min-impressions"
        )
    x = np.array([[row[f"{n}_score"] for n in names] for row in usable], float)
    y = np.array([row["ctr"] for row in usable], float)
    weights = _fit(x, y)
    order = np.random.default_rng(seed).permutation(len(y))
    predicted = np.empty_like(y)
    for fold in np.array_split(order, FOLDS):
        train = np.setdiff1d(order, fold)
        predicted[fold] = x[fold] @ _fit(x[train], y[train])
    in_sample = _spearman(list(zip(x @ weights, y)))[0]
    cross = _spearman(list(zip(predicted, y)))[0]
    total = weights.sum() or 1.0
    return LearnedWeights({n: round(float(w / total), 4) for n, w in zip(names, weights)}, len(y), in_sample, cross)


def _fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative weights on the raw components (fitted on standardised ones, ridge added)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    standard = (x - mean) / scale
    target = (y - y.mean()) / (y.std() or 1.0)
    augmented = np.vstack([standard, np.sqrt(RIDGE) * np.eye(x.shape[1])])
    coefficients, _ = nnls(augmented, np.concatenate([target, np.zeros(x.shape[1])]))
    return coefficients / scale


def _rounded(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def write_weights(learned: LearnedWeights, path: Path) -> Path:
    """The weights as a brand kit's ``scoring`` section (merge it into the kit's YAML)."""
    text = (
        f"# Fitted to {learned.creatives} creatives' click-through rates by pixio-ads results --learn-weights;\n"
        f"# rank correlation with CTR: {_rounded(learned.spearman_cross_validated)} cross-validated, "
        f"{_rounded(learned.spearman_in_sample)} in sample.\n"
        + yaml.safe_dump({"scoring": {"weights": learned.weights}}, sort_keys=False)
    )
    atomic_write_bytes(Path(path), text.encode())
    return Path(path)
