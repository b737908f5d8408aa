"""Scoring a CSV of districts (`housing predict`): through the gateway in chunks, or in this
process with a model folder the train stage wrote. The output is the input's rows with the price
(and its interval) added, written whole or not at all."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from housing.contract import CATEGORICAL, FEATURES, NUMERIC
from housing.files import atomic_path

PRICE, LOW, HIGH = "predicted_median_house_value", "interval_low", "interval_high"
# A chunk the gateway turns away for now (429: the key's rate; 503: no predictor ready) is sent
# again after its Retry-After (at most RETRY_CAP_S), up to this many times.
RETRIES, RETRY_CAP_S = 5, 30.0
Progress = Callable[[int], None]  # told how many rows were scored since its last call


class BatchError(Exception):
    """A readable reason to stop (a missing column, a refused row, an unreachable gateway)."""


def read_districts(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The CSV's header and rows; every feature column must be there (others are kept as is)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        missing = [name for name in FEATURES if name not in header]
        if missing:
            raise BatchError(f"{path}: no column {', '.join(missing)}")
        return header, list(reader)


def as_record(row: dict[str, str]) -> dict:
    """A row as /predict takes it: numbers as numbers, an empty cell as missing; anything else is
    sent as written, for the contract's check to name."""
    record: dict = {CATEGORICAL: row[CATEGORICAL]}
    for name in NUMERIC:
        text = (row[name] or "").strip()
        try:
            record[name] = float(text) if text else None
        except ValueError:
            record[name] = text
    return record


def chunks(rows: list, size: int) -> Iterator[tuple[int, list]]:
    for start in range(0, len(rows), size):
        yield start, rows[start : start + size]


def score_remote(
    rows: list[dict[str, str]],
    url: str,
    key: str | None,
    interval: float | None,
    chunk_size: int,
    progress: Progress,
) -> list[tuple[float, list[float] | None]]:
    """Each row's price (and interval) from the gateway at `url`, `chunk_size` rows a request."""
    import httpx

    headers = {"X-API-Key": key} if key else {}
    params = {"interval": interval} if interval is not None else None
    scored: list[tuple[float, list[float] | None]] = []
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        for start, part in chunks(rows, chunk_size):
            body = {"records": [as_record(r) for r in part]}
            for attempt in range(RETRIES + 1):
                try:
                    response = client.post("/predict", params=params, json=body)
                except httpx.HTTPError as exc:
                    raise BatchError(f"{url}: {type(exc).__name__}: {exc}") from None
                if response.status_code not in (429, 503) or attempt == RETRIES:
                    break
                time.sleep(min(float(response.headers.get("retry-after", 1)), RETRY_CAP_S))
            if response.status_code != 200:
                raise BatchError(refusal(response, start))
            answer = response.json()
            bounds = answer.get("intervals") or [None] * len(part)
            scored += zip(answer["predictions"], bounds, strict=True)
            progress(len(part))
    return scored


def refusal(response, offset: int) -> str:
    """The gateway's problem as one line; a refused field by its row in the file (line 2 is the
    first row)."""
    try:
        problem = response.json()
    except ValueError:
        return f"the gateway answered {response.status_code}: {response.text[:200]}"
    for error in problem.get("errors") or []:
        if "record" in error:
            row = offset + error["record"]
            field = error["field"].rsplit(".", 1)[-1]
            return f"row {row + 1} (line {row + 2}): {field}: {error['message']}"
    return f"the gateway answered {response.status_code}: {problem.get('detail', response.text)}"


def score_local(
    rows: list[dict[str, str]],
    model_dir: Path,
    interval: float | None,
    chunk_size: int,
    progress: Progress,
) -> list[tuple[float, list[float] | None]]:
    """The same, from the model folder `model_dir` (the train stage's output), in this process;
    each row checked by the feature contract first."""
    import numpy as np
    import pandas as pd
    from pydantic import ValidationError

    from housing.contract import HousingRecord
    from housing.model import intervals
    from housing.model.persist import load_model
    from housing.web.errors import field_path

    pipeline = load_model(model_dir)
    scores = intervals.scores_of(pipeline)
    if interval is not None and scores is None:
        raise BatchError(f"{model_dir}: this model was trained without interval calibration")
    scored: list[tuple[float, list[float] | None]] = []
    for start, part in chunks(rows, chunk_size):
        records = []
        for index, row in enumerate(part):
            try:
                records.append(HousingRecord.model_validate(as_record(row)).model_dump(mode="json"))
            except ValidationError as exc:
                first = exc.errors()[0]
                row_number = start + index
                raise BatchError(
                    f"row {row_number + 1} (line {row_number + 2}): "
                    f"{field_path(first['loc'])}: {first['msg']}"
                ) from None
        frame = pd.DataFrame.from_records(records, columns=list(FEATURES))
        prices = np.asarray(pipeline.predict(frame), dtype=np.float64)
        bounds = [None] * len(part)
        if interval is not None:
            bounds = intervals.pairs(prices, scores, interval)
        scored += zip(prices.tolist(), bounds, strict=True)
        progress(len(part))
    return scored


def write_scored(
    path: Path,
    header: list[str],
    rows: list[dict[str, str]],
    scored: list[tuple[float, list[float] | None]],
    with_interval: bool,
) -> None:
    """The input's rows with the price (and interval) columns, replacing `path` only when whole."""
    columns = [*header, PRICE, *([LOW, HIGH] if with_interval else [])]
    with atomic_path(path, ".csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row, (price, bounds) in zip(rows, scored, strict=True):
            extra = [round(price, 2), *(round(b, 2) for b in bounds or [])]
            writer.writerow([row[name] for name in header] + extra)
