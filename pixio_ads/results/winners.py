"""What wins, with its uncertainty: Beta-binomial posteriors per value of each dimension.

Each value (a style, an audience, a headline option...) has a click-through rate: clicks out
of impressions. With a uniform Beta(1, 1) prior its posterior is Beta(1 + clicks, 1 +
impressions - clicks); the conversion rate likewise over clicks. The 95% credible interval
is the posterior's 2.5% and 97.5% quantiles, and the probability that a value is the best of
its dimension is the share of joint posterior draws (seeded) in which it has the highest
rate. A dimension has a winner when one value is best with probability >= ``threshold`` and
every value has at least ``min_impressions``: before that the data say "not enough" however
large the gap looks. Values of a dimension are compared over all creatives that have them,
so a style is judged across audiences and formats (and pairs of dimensions are reported too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy.stats import beta

DIMENSIONS = ("style", "audience", "template_name", "format", "headline_option", "cta_option", "language", "model_id")
MIN_IMPRESSIONS = 1000  # per value, before any verdict
THRESHOLD = 0.95
DRAWS = 20_000


@dataclass(frozen=True, slots=True)
class ValueStats:
    value: str
    creatives: int
    impressions: int
    clicks: int
    conversions: float
    ctr: float  # posterior mean
    ctr_low: float  # 95% credible interval
    ctr_high: float
    p_best: float  # probability of the highest click-through rate
    cvr: float  # conversions per click, posterior mean
    cvr_low: float
    cvr_high: float
    p_best_cvr: float


@dataclass
class DimensionResult:
    dimension: str  # "style", or "style x audience" for a pair
    values: list[ValueStats] = field(default_factory=list)
    winner: str | None = None
    verdict: str = ""


def analyse(
    rows: list[dict],
    dimensions: tuple[str, ...] = DIMENSIONS,
    min_impressions: int = MIN_IMPRESSIONS,
    threshold: float = THRESHOLD,
    seed: int = 0,
    pairs: bool = True,
) -> list[DimensionResult]:
    """One result per dimension with more than one value in ``rows`` (performance rows:
    manifest columns with impressions, clicks, conversions), then per pair of them."""
    rng = np.random.default_rng(seed)
    varied = [d for d in dimensions if len({str(row[d]) for row in rows if row.get(d) is not None}) > 1]
    keys = [(d,) for d in varied] + (list(combinations(varied, 2)) if pairs else [])
    return [_dimension(rows, key, min_impressions, threshold, rng) for key in keys]


def _dimension(rows, key: tuple[str, ...], min_impressions, threshold, rng) -> DimensionResult:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(" x ".join(str(row[d]) for d in key), []).append(row)
    names = sorted(groups)
    totals_ = [totals(groups[name]) for name in names]
    clicks = np.array([t[1] for t in totals_], float)
    impressions = np.array([t[0] for t in totals_], float)
    conversions = np.array([min(t[2], t[1]) for t in totals_], float)
    p_ctr = probability_best(1 + clicks, 1 + impressions - clicks, rng)
    p_cvr = probability_best(1 + conversions, 1 + clicks - conversions, rng)
    values = [
        ValueStats(
            name,
            len(groups[name]),
            int(impressions[i]),
            int(clicks[i]),
            float(conversions[i]),
            *_posterior(clicks[i], impressions[i]),
            float(p_ctr[i]),
            *_posterior(conversions[i], clicks[i]),
            float(p_cvr[i]),
        )  # fmt: skip
        for i, name in enumerate(names)
    ]
    result = DimensionResult(" x ".join(key), sorted(values, key=lambda v: -v.p_best))
    _verdict(result, min_impressions, threshold)
    return result


def totals(rows: list[dict]) -> tuple[int, int, float]:
    """(impressions, clicks, conversions) summed over performance rows."""
    return (
        sum(row["impressions"] or 0 for row in rows),
        sum(row["clicks"] or 0 for row in rows),
        sum(row["conversions"] or 0 for row in rows),
    )


def _posterior(successes: float, trials: float) -> tuple[float, float, float]:
    """(mean, 2.5% quantile, 97.5% quantile) of Beta(1 + successes, 1 + trials - successes)."""
    a, b = 1 + successes, 1 + max(trials - successes, 0)
    low, high = beta.ppf([0.025, 0.975], a, b)
    return float(a / (a + b)), float(low), float(high)


def probability_best(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, draws: int = DRAWS) -> np.ndarray:
    """P(each of the Beta(a_i, b_i) rates is the highest), from joint posterior draws."""
    return np.bincount(best_in_draws(a, b, rng, draws), minlength=len(a)) / draws


def best_in_draws(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, draws: int) -> np.ndarray:
    """For each of ``draws`` joint draws of the Beta(a_i, b_i) rates, the index of the highest:
    what P(best) counts, and what Thompson sampling gives each slot to (nextround.py)."""
    return rng.beta(a[:, None], b[:, None], size=(len(a), draws)).argmax(axis=0)


def _verdict(result: DimensionResult, min_impressions: int, threshold: float) -> None:
    best = result.values[0]
    thin = [v.value for v in result.values if v.impressions < min_impressions]
    if thin:
        result.verdict = (
            f"not enough data: {', '.join(thin[:5])} {'has' if len(thin) == 1 else 'have'} fewer than "
            f"{min_impressions:,} impressions"
        )
    elif best.p_best >= threshold:
        result.winner = best.value
        result.verdict = f"{best.value} wins: best click-through rate with probability {best.p_best:.2f}"
    else:
        result.verdict = (
            f"no clear winner yet: {best.value} is best with probability {best.p_best:.2f} (< {threshold})"
        )
