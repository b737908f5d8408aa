"""Drift of live inputs and predictions from a version's reference, by Evidently.

Evidently chooses each column's test by its kind and size (for the sizes here: the normed
Wasserstein distance for numbers, the Jensen-Shannon distance for the category, both drifted at
0.1; a small sample gets a K-S or chi-squared p-value instead) and decides whether it drifted;
this module keeps its score and decision, and its report as HTML for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from housing.contract import CATEGORICAL, FEATURES, NUMERIC
from housing.files import atomic_path
from housing.monitor.evidently_compat import DataDefinition, DataDriftPreset, Dataset, Report
from housing.monitor.reference import PREDICTION

COLUMNS = (*FEATURES, PREDICTION)
_DEFINITION = DataDefinition(
    numerical_columns=[*NUMERIC, PREDICTION], categorical_columns=[CATEGORICAL]
)


@dataclass(frozen=True)
class Drift:
    columns: dict[str, dict]  # column -> {score, drifted, method, threshold}
    snapshot: object  # Evidently's, for its HTML

    def fields(self) -> dict[str, dict]:
        return {name: self._public(name) for name in FEATURES}

    def prediction(self) -> dict:
        return self._public(PREDICTION)

    def _public(self, name: str) -> dict:
        found = self.columns[name]
        return {"score": found["score"], "drifted": found["drifted"], "method": found["method"]}

    def save_html(self, dest: Path) -> None:
        with atomic_path(dest, ".html") as tmp:
            self.snapshot.save_html(str(tmp))


def compare(live: pd.DataFrame, reference: pd.DataFrame) -> Drift:
    """Each of COLUMNS of `live` against `reference`."""
    report = Report([DataDriftPreset(columns=list(COLUMNS))], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(_columns(live), data_definition=_DEFINITION),
        Dataset.from_pandas(_columns(reference), data_definition=_DEFINITION),
    )
    result = snapshot.dict()
    columns: dict[str, dict] = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            columns[config["column"]] = {
                "score": float(metric["value"]),
                "method": config.get("method"),
                "threshold": config.get("threshold"),
            }
    for test in result.get("tests", []):
        params = test["metric_config"]["params"]
        if params.get("type", "").endswith("ValueDrift") and params["column"] in columns:
            columns[params["column"]]["drifted"] = test["status"] == "FAIL"
    missing = [name for name in COLUMNS if "drifted" not in columns.get(name, {})]
    if missing:
        raise RuntimeError(f"Evidently's report has no drift decision for {missing}")
    return Drift(columns, snapshot)


def _columns(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[list(COLUMNS)].copy()
    out[CATEGORICAL] = out[CATEGORICAL].astype(str)
    return out
