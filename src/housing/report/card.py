"""model_card.md: what a version is, what it is for, how good it is and where it is weak."""

from __future__ import annotations

from housing.contract import PRICE_CAP
from housing.report import plots

INTENDED_USE = """\
Estimates of the **median house value of a California census district (block group) in the 1990
census**, from the district's location, housing and income figures: for comparing districts,
teaching and testing an MLOps stack. It is **not** an appraisal of an individual home, not a
price for today (the data are from 1990, before three decades of price growth), not valid outside
California, and not fit for decisions about lending, insurance or housing access about people."""

LIMITS = """\
- **Capped prices.** The census recorded every value above ${cap:,.0f} as ${cap:,.0f}: the model
  never saw a higher price, and predicts none much above it. {capped} of the test districts sit at
  the cap; the RMSE below the cap is {below_cap:,.0f}.
- **Old data.** 1990 prices and incomes (incomes in tens of thousands of 1990 dollars). Use the
  figures relative to each other, not as dollars today.
- **Sparse districts.** The neighbour features describe the nearest training districts; where
  they are far away (rural counties, islands) the model knows less. See the breakdown by density.
- **Districts, not homes.** A district's median hides the spread of its homes.
- **Intervals** hold the price at their nominal rate on average over districts like the test
  split's, not for each district: they are narrower than they should be where the model is
  weakest (see the plot of width against error)."""


def _row(name: str, e: dict) -> str:
    return (
        f"| {name} | {e['districts']:,} | {e['rmse']:,.0f} | {e['mae']:,.0f} | {e['bias']:+,.0f} |"
    )


def _table(groups: dict[str, dict]) -> list[str]:
    lines = ["| | districts | RMSE | MAE | mean error |", "|---|---:|---:|---:|---:|"]
    return lines + [_row(name, e) for name, e in groups.items()]


def render(facts: dict) -> str:
    """`facts`: what stages/report.py gathers (model, lineage, metrics, breakdown, importance)."""
    m, b, lineage = facts["metrics"], facts["breakdown"], facts["lineage"]
    lines = [
        f"# Model card: {facts['model']['name']}",
        "",
        "Written by the pipeline's `report` stage for this run; the plots are beside it.",
        "",
        "## Model",
        "",
        f"- {facts['model']['description']}",
        f"- Training parameters (params.yaml, `train`): `{facts['model']['params']}`",
        "",
        "## Data and lineage",
        "",
        f"- Raw data sha256 `{lineage['raw_sha256']}`; train split sha256 "
        f"`{lineage['train_sha256']}` ({lineage['train_rows']:,} districts), test split sha256 "
        f"`{lineage['test_sha256']}` ({lineage['test_rows']:,} districts).",
        "- Split 80/20, stratified on income category (params.yaml, `prepare`); every feature is "
        "computed inside the fitted pipeline from the nine fields of a request.",
        f"- Code: git commit `{lineage['git_commit']}`.",
        "",
        "## Intended use",
        "",
        INTENDED_USE,
        "",
        "## Metrics",
        "",
        f"Chosen by {facts['cv']['folds']}-fold cross-validation on the train split: RMSE "
        f"{facts['cv']['mean']:,.0f} ± {facts['cv']['std']:,.0f}. The test split, scored once:",
        "",
        "| RMSE | MAE | R² | RMSE below the cap |",
        "|---:|---:|---:|---:|",
        f"| {m['rmse']:,.0f} | {m['mae']:,.0f} | {m['r2']:.3f} | {m['rmse_below_cap']:,.0f} |",
        "",
        "### By ocean proximity",
        "",
        *_table(b["by_ocean_proximity"]),
        "",
        "### By median income (tens of thousands of dollars)",
        "",
        *_table(b["by_income_band"]),
        "",
        "### At and below the price cap",
        "",
        *_table(b["capped"]),
        "",
    ]
    if "by_density" in b:
        lines += ["### By density of training districts nearby", "", *_table(b["by_density"]), ""]
    lines += _intervals(facts.get("intervals"))
    lines += [
        "## Known limits",
        "",
        LIMITS.format(
            cap=PRICE_CAP,
            capped=f"{b['capped'].get('at the cap', {}).get('districts', 0):,}",
            below_cap=m["rmse_below_cap"],
        ),
        "",
        "## Plots",
        "",
        f"![Predicted against actual]({plots.PREDICTED_VS_ACTUAL})",
        f"![Errors on a map of California]({plots.RESIDUAL_MAP})",
        f"![Permutation importance of the request's fields]({plots.IMPORTANCE})",
        f"![Interval width against error]({plots.WIDTH_VS_ERROR})",
        "",
    ]
    return "\n".join(lines)


def _intervals(intervals: dict | None) -> list[str]:
    if not intervals:
        return ["## Intervals", "", "This version has no interval calibration.", ""]
    lines = [
        "## Intervals",
        "",
        "`POST /predict?interval=L` gives each prediction a range meant to hold the true price "
        "with probability L: split conformal prediction on the cross-validation's out-of-fold "
        "errors relative to the prediction. On the test split:",
        "",
        "| level | coverage | mean width |",
        "|---:|---:|---:|",
    ]
    for level, (coverage, width) in intervals.items():
        lines.append(f"| {level} | {coverage:.1%} | {width:,.0f} |")
    return [*lines, ""]
