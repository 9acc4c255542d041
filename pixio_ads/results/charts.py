"""What wins, for people: a markdown report (the Prefect artifact, the review page, the
command's output) and a chart of each dimension's rates with their credible intervals."""

from __future__ import annotations

from html import escape
from pathlib import Path

from pixio_ads.core.fileio import atomic_write
from pixio_ads.results.predict import Correlation, LearnedWeights
from pixio_ads.results.winners import DimensionResult

REPORT_FILE = "results.md"
FRAGMENT_FILE = "results.html"  # the review page's /results shows it
CHART_FILE = "results.png"


def markdown(
    results: list[DimensionResult], correlations: list[Correlation], learned: LearnedWeights | None = None
) -> str:
    lines = ["# What wins", ""]
    for result in results:
        lines += [f"## {result.dimension}", "", f"**{result.verdict}**", ""]
        lines += [
            "| value | creatives | impressions | clicks | CTR (95% interval) | P(best CTR) | conv./click (95%) | P(best conv.) |"
        ]
        lines += ["|---|---:|---:|---:|---|---:|---|---:|"]
        for v in result.values:
            lines.append(
                f"| {v.value} | {v.creatives} | {v.impressions:,} | {v.clicks:,} | {v.ctr:.2%} ({v.ctr_low:.2%}-{v.ctr_high:.2%}) "
                f"| {v.p_best:.2f} | {v.cvr:.2%} ({v.cvr_low:.2%}-{v.cvr_high:.2%}) | {v.p_best_cvr:.2f} |"
            )
        lines.append("")
    lines += [
        "## Does the pre-launch score predict CTR?",
        "",
        "| score | creatives | Spearman rho | p |",
        "|---|---:|---:|---:|",
    ]
    for c in correlations:
        rho = "n/a" if c.spearman is None else f"{c.spearman:+.2f}"
        p = "" if c.p_value is None else f"{c.p_value:.3f}"
        lines.append(f"| {c.name} | {c.creatives} | {rho} | {p} |")
    if learned:
        lines += [
            "",
            f"Weights fitted to {learned.creatives} creatives: "
            + ", ".join(f"{k} {v}" for k, v in learned.weights.items()),
        ]
        lines.append(
            f"(rank correlation with CTR {learned.spearman_cross_validated} cross-validated, {learned.spearman_in_sample} in sample)"
        )
    return "\n".join(lines) + "\n"


def chart(results: list[DimensionResult], path: Path) -> Path | None:
    """Each single dimension's click-through rates with 95% intervals, one panel each."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    single = [r for r in results if " x " not in r.dimension]
    if not single:
        return None
    figure, axes = plt.subplots(
        len(single), 1, figsize=(7, 1.2 + 0.45 * sum(len(r.values) for r in single)), squeeze=False
    )
    for axis, result in zip(axes[:, 0], single):
        values = sorted(result.values, key=lambda v: v.ctr)
        ys = range(len(values))
        low = [v.ctr - v.ctr_low for v in values]
        high = [v.ctr_high - v.ctr for v in values]
        colours = ["#2a9d8f" if v.value == result.winner else "#457b9d" for v in values]
        axis.errorbar([v.ctr for v in values], ys, xerr=[low, high], fmt="none", ecolor="#999", capsize=3)
        axis.scatter([v.ctr for v in values], ys, c=colours, zorder=3)
        axis.set_yticks(list(ys), [f"{v.value}  (P best {v.p_best:.2f})" for v in values])
        axis.set_title(f"{result.dimension}: {result.verdict}", fontsize=9, loc="left")
        axis.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=2))
    axes[-1, 0].set_xlabel("click-through rate, 95% credible interval")
    figure.tight_layout()
    atomic_write(Path(path), lambda tmp: figure.savefig(tmp, format="png", dpi=110))
    plt.close(figure)
    return Path(path)


def html_fragment(results: list[DimensionResult], threshold: float, min_impressions: int) -> str:
    """The tables for the review page (every value escaped)."""
    parts = [
        f'<p class="meta">Rates with their 95% credible intervals (Beta-binomial); a value wins once it is best with '
        f"probability {threshold} and every value has {min_impressions:,}+ impressions.</p>"
    ]
    for result in results:
        parts.append(f"<h2>{escape(result.dimension)}</h2><p><b>{escape(result.verdict)}</b></p>")
        parts.append('<table class="scores"><tr><th>value</th><th>impressions</th><th>clicks</th>'
                     "<th>CTR (95%)</th><th>P(best)</th><th>conv./click (95%)</th></tr>")  # fmt: skip
        for v in result.values:
            weight = ' style="font-weight: bold"' if v.value == result.winner else ""
            parts.append(
                f"<tr{weight}><td>{escape(v.value)}</td><td>{v.impressions:,}</td><td>{v.clicks:,}</td>"
                f"<td>{v.ctr:.2%} ({v.ctr_low:.2%}-{v.ctr_high:.2%})</td><td>{v.p_best:.2f}</td>"
                f"<td>{v.cvr:.2%} ({v.cvr_low:.2%}-{v.cvr_high:.2%})</td></tr>"
            )
        parts.append("</table>")
    return "\n".join(parts) + "\n"
