"""What a monitoring pass costs on a busy log (`--only monitor`): 100,000 predictions in the
window, half of them labelled, from the test split resampled with the champion's own predictions,
in SQLite (as in `make demo`) and in PostgreSQL (as in the stack). Each store is read by a fresh
process that runs two passes, as the service does: the first downloads the reference and pays
Evidently's import, the second is the steady state. Reported: each pass's seconds, and the
process's peak RSS. Not logged to MLflow (a run and a report artifact: the tracking server's
time, not the pass's).
"""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROWS = 100_000
LABELLED_SHARE = 0.5
_PASSES = r"""
import json, resource, sys, time
from housing.monitor.run import Monitor
from housing.monitor.settings import MonitorSettings
started = time.perf_counter()
monitor = Monitor(MonitorSettings(), sys.argv[1], 10.0)
seconds = [monitor.run()["seconds"] for _ in range(2)]
print(json.dumps({"pass_s": seconds, "process_s": round(time.perf_counter() - started, 2),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def fill(url: str, test_csv: Path, model_dir: Path, run_id: str, version: str) -> None:
    """ROWS predictions in the last hour, the first LABELLED_SHARE of them with their actual."""
    import numpy as np
    import pandas as pd
    from sqlalchemy import insert

    from housing.contract import FEATURES, TARGET
    from housing.model.persist import load_model
    from housing.predictions import store
    from housing.predictions.table import actuals, predictions

    frame = pd.read_csv(test_csv).sample(ROWS, replace=True, random_state=0)
    predicted = load_model(model_dir).predict(frame[list(FEATURES)])
    now = datetime.now(UTC).replace(tzinfo=None)
    at = [now - timedelta(seconds=3600 * i / ROWS) for i in range(ROWS)]
    rows = frame[list(FEATURES)].astype(object).where(frame[list(FEATURES)].notna(), None)
    records = rows.to_dict("records")
    engine = store.connect(url)
    store.ensure_schema(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(predictions),
            [
                {
                    **record,
                    "request_id": f"b{i}",
                    "record_index": 0,
                    "logged_at": at[i],
                    "prediction": float(predicted[i]),
                    "model_name": "housing-price",
                    "model_version": version,
                    "run_id": run_id,
                }
                for i, record in enumerate(records)
            ],
        )
        labelled = int(ROWS * LABELLED_SHARE)
        connection.execute(
            insert(actuals),
            [
                {"request_id": f"b{i}", "record_index": 0, "actual": float(a), "recorded_at": now}
                for i, a in enumerate(np.asarray(frame[TARGET])[:labelled])
            ],
        )
    engine.dispose()


def measure_monitor_cost(tracking_url: str, run_id: str, version: str, root: Path, work: Path):
    from bench.log_cost import _postgres_url

    results = {}
    with ExitStack() as stack:
        urls = {
            "sqlite": f"sqlite:///{work / 'monitor-bench.db'}",
            "postgresql": _postgres_url(stack),
        }
        for store, url in urls.items():
            fill(url, root / "data/prepared/test.csv", root / "models/trained", run_id, version)
            env = {
                "PATH": str(Path(sys.executable).parent),
                "MLFLOW_TRACKING_URI": tracking_url,
                "MONITOR_EXPERIMENT": "",
                "MONITOR_STATE_DIR": str(work / f"monitor-{store}"),
                "MONITOR_MAX_ROWS": str(ROWS),
                "PYTHONPATH": str(root / "src"),
            }
            done = subprocess.run(
                [sys.executable, "-c", _PASSES, url], env=env, capture_output=True, text=True,
                timeout=900, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"monitor pass on {store} failed:\n{done.stderr[-2000:]}")
            results[store] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"monitor pass, {ROWS:,} predictions in {store}: {results[store]}", flush=True)
    return {"rows": ROWS, "labelled_share": LABELLED_SHARE, **results}
