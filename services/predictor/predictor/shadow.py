"""Scoring a share of the answered requests with a second model (the shadow alias's), so that the
monitor can compare it with the champion on the same records before anyone promotes it.

Off the request path: a handler only offers the request (a coin toss and an append under a
lock); a thread of its own takes what was offered every SCORE_EVERY_S, prices it in one batch
(one call of the compiled model for many requests costs far less than one a request) and writes
the predictions to the log's `shadow_predictions`. What it cannot keep up with is dropped and
counted, never waited for: a shadow never changes or delays an answer.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter

from housing.predictions.writer import PredictionLog
from predictor.manager import ModelManager

log = logging.getLogger("predictor")

SCORE_EVERY_S = 0.5
# Records offered and not scored yet, at most: past this (the thread behind), offers are dropped.
BUFFER_ROWS = 50_000


class ShadowScorer:
    def __init__(
        self,
        manager: ModelManager,
        serving: ModelManager,
        fraction: float,
        prediction_log: PredictionLog,
        registry: CollectorRegistry,
    ):
        self.manager = manager  # the shadow alias's model
        self.serving = serving  # the one that answers: nothing is scored while they are the same
        self.fraction = fraction
        self.prediction_log = prediction_log
        self._lock = threading.Lock()
        self._offered: list[tuple[str, list]] = []
        self._offered_rows = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.scored = Counter(
            "predictor_shadow_scored", "Records scored in shadow and logged", registry=registry
        )
        # The scorer thread's own CPU: what shadow costs apart from the request path (make bench).
        self.cpu_seconds = Counter(
            "predictor_shadow_cpu_seconds",
            "CPU time of the shadow scorer's thread",
            registry=registry,
        )
        self.dropped = Counter(
            "predictor_shadow_dropped",
            "Records offered to the shadow and not logged (the scorer behind, the shadow "
            "swapped meanwhile, or the log's write failed)",
            registry=registry,
        )

    def offer(self, request_id: str, records: list, answered_by) -> None:
        """A request `answered_by` a model (on the request path: no scoring, no I/O). Nothing
        is kept while no shadow has loaded, or it is the model that answered."""
        shadow = self.manager.current
        if shadow is None or shadow.identity == answered_by.identity:
            return
        if self.fraction < 1.0 and random.random() >= self.fraction:  # noqa: S311 - sampling
            return
        with self._lock:
            if self._offered_rows + len(records) <= BUFFER_ROWS:
                self._offered.append((request_id, records))
                self._offered_rows += len(records)
                return
        self.dropped.inc(len(records))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(SCORE_EVERY_S)
            started = time.thread_time()
            try:
                self.score_offered()
            except Exception:  # noqa: BLE001 - the thread must outlive any one batch's bug
                log.exception("shadow scoring failed; scoring on")
            self.cpu_seconds.inc(time.thread_time() - started)
            if stopping:
                return

    def score_offered(self) -> int:
        """Score and log what was offered; returns how many records were logged."""
        with self._lock:
            batch, self._offered, self._offered_rows = self._offered, [], 0
        if not batch:
            return 0
        count = sum(len(records) for _, records in batch)
        model, serving = self.manager.current, self.serving.current
        if model is None or (serving is not None and model.identity == serving.identity):
            self.dropped.inc(count)  # no shadow yet, or it is the champion: nothing to compare
            return 0
        values = model.predict([record for _, records in batch for record in records])
        at = datetime.now(UTC).replace(tzinfo=None)
        rows, start = [], 0
        for request_id, records in batch:
            for index in range(len(records)):
                rows.append(
                    {
                        "request_id": request_id,
                        "record_index": index,
                        "logged_at": at,
                        "prediction": values[start + index],
                        "model_name": model.name,
                        "model_version": model.version,
                        "run_id": model.run_id,
                    }
                )
            start += len(records)
        if not self.prediction_log.write_shadow(rows):
            self.dropped.inc(count)
            return 0
        self.scored.inc(count)
        return count
