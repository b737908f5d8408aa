"""Champion against challenger on the same records: what the shadow scored, beside what was
answered, on the records whose actual came back (the log's `shadow_predictions`, `predictions`
and `actuals` joined on request id and record).

`GET /monitor` gives it as `"shadow": {"<challenger version>": {...}}`, and
`housing promote --from-shadow` decides from it.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from housing.predictions.table import actuals, predictions, shadow_predictions

COLUMNS = ("champion", "challenger", "champion_prediction", "challenger_prediction", "actual")


def read(engine: Engine, start: datetime, end: datetime, max_rows: int) -> pd.DataFrame:
    """The latest `max_rows` shadow-scored records logged in [start, end], with the answered
    prediction and the actual (NaN where none came)."""
    s, p, a = shadow_predictions.c, predictions.c, actuals.c
    query = (
        select(
            p.model_version,
            s.model_version,
            p.prediction,
            s.prediction,
            a.actual,
        )
        .select_from(
            shadow_predictions.join(
                predictions, (p.request_id == s.request_id) & (p.record_index == s.record_index)
            ).outerjoin(
                actuals, (a.request_id == s.request_id) & (a.record_index == s.record_index)
            )
        )
        .where(s.logged_at >= start, s.logged_at <= end)
        .order_by(s.logged_at.desc())
        .limit(max_rows)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    return frame.astype({name: "float64" for name in COLUMNS[2:]})


def _rmse(error: np.ndarray) -> float | None:
    return float(np.sqrt(np.mean(error**2))) if len(error) else None


def _mae(error: np.ndarray) -> float | None:
    return float(np.mean(np.abs(error))) if len(error) else None


def compare(rows: pd.DataFrame) -> dict[str, dict]:
    """Per challenger version, against the champion that answered its latest record: records
    scored by both, labelled ones, RMSE and MAE of each on those (USD), and `rmse_change`, the
    challenger's RMSE relative to the champion's (-0.05: 5 % lower). Records answered by an
    older champion are left out (counted in `other_champion`): each figure compares one pair."""
    out = {}
    for challenger, group in rows.groupby("challenger", sort=False):
        champion = group["champion"].iloc[0]  # newest first
        pair = group[group["champion"] == champion]
        labelled = pair[pair["actual"].notna()]
        actual = labelled["actual"].to_numpy()
        served = labelled["champion_prediction"].to_numpy() - actual
        shadow = labelled["challenger_prediction"].to_numpy() - actual
        rmse = {"champion": _rmse(served), "challenger": _rmse(shadow)}
        change = (
            rmse["challenger"] / rmse["champion"] - 1.0
            if len(labelled) and rmse["champion"]
            else None
        )
        out[str(challenger)] = {
            "champion": str(champion),
            "scored": len(pair),
            "labelled": len(labelled),
            "rmse": rmse,
            "mae": {"champion": _mae(served), "challenger": _mae(shadow)},
            "rmse_change": change,
            "other_champion": len(group) - len(pair),
        }
    return out
