"""The predictor's side of the log: answered records buffered in memory and written in batches by
a thread of its own, so that no request waits on the store or fails with it.

`record` (on the request path) only appends a tuple under a lock. Every `flush_interval_s` the
thread writes what was buffered as one statement (housing.predictions.bulk). When a write fails
the batch is kept and tried again first on the next round; while the store stays down the buffer
fills to `buffer_rows`, after which new records are dropped and counted
(`<service>_log_dropped_total`). `stop` writes what is left, once.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import and_, delete, exists

from housing.predictions import bulk, store
from housing.predictions.settings import PredictionLogSettings
from housing.predictions.table import actuals, predictions, shadow_predictions

log = logging.getLogger("housing.predictions")

PRUNE_EVERY_S = 3600.0
# Requests per statement: bounds a statement's size after a long outage (one row per record).
CHUNK_REQUESTS = 2_000


class PredictionLog:
    def __init__(self, settings: PredictionLogSettings, registry: CollectorRegistry, prefix: str):
        self.settings = settings
        self._lock = threading.Lock()
        self._pending: list[tuple] = []
        self._pending_rows = 0
        self._retry: list[tuple] = []  # a failed write's requests, written first next round
        self._retry_rows = 0
        self._writing_rows = 0  # taken by the thread and not written yet: still held in memory
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store = store.LogStore(settings.url, settings.connect_timeout_s)
        self._failing = False
        self._next_prune = 0.0

        def counter(name: str, doc: str) -> Counter:
            return Counter(f"{prefix}_log_{name}", doc, registry=registry)

        self.dropped = counter(
            "dropped", "Answered records not logged: the buffer was full (the store slow or down)"
        )
        self.written = counter("written", "Records written to the prediction log")
        self.failures = counter(
            "write_failures", "Batch writes that failed (the batch is kept and tried again)"
        )
        self.pruned = counter("pruned", "Rows deleted by the retention setting")
        buffered = Gauge(
            f"{prefix}_log_buffered", "Records waiting to be written", registry=registry
        )
        buffered.set_function(self.held)

    def held(self) -> int:
        """Records in memory: waiting, kept from a failed write, or being written."""
        return self._pending_rows + self._retry_rows + self._writing_rows

    def record(self, request_id: str, records, predictions_, level, bounds, model) -> None:
        """One answered request (on the request path: no I/O, no per-record work)."""
        count = len(records)
        entry = (request_id, time.time(), level, model.name, model.version, model.run_id)
        with self._lock:
            if self.held() + count <= self.settings.buffer_rows:
                self._pending.append((entry, records, predictions_, bounds))
                self._pending_rows += count
                return
        self.dropped.inc(count)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Write what is buffered (one try) and end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        left = self.held()
        if left:
            log.warning("prediction log: %d records could not be written before stopping", left)
            self.dropped.inc(left)
        self._store.close()

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.settings.flush_interval_s)
            self.flush()
            if not stopping and time.monotonic() >= self._next_prune and not self._failing:
                self.prune()
            if stopping:
                return

    def flush(self) -> int:
        """Write every buffered record; returns how many were written."""
        with self._lock:
            batch, self._retry, self._pending = self._retry + self._pending, [], []
            self._writing_rows = self._retry_rows + self._pending_rows
            self._retry_rows, self._pending_rows = 0, 0
        written = 0
        for start in range(0, len(batch), CHUNK_REQUESTS):
            chunk = batch[start : start + CHUNK_REQUESTS]
            try:
                rows = self._write(chunk)
            except Exception as exc:  # noqa: BLE001 - any store failure: keep the rest, retry
                self._failed(batch[start:], exc)
                return written
            written += rows
            with self._lock:
                self._writing_rows -= rows
        if self._failing and batch:
            log.warning("prediction log: writing again")
            self._failing = False
        return written

    def _write(self, chunk: list[tuple]) -> int:
        engine = self._store.engine()
        with engine.begin() as connection:
            bulk.write(connection, engine.dialect.name, chunk)
        rows = sum(len(records) for _, records, _, _ in chunk)
        self.written.inc(rows)
        return rows

    def write_shadow(self, rows: list[dict]) -> bool:
        """Write shadow predictions now (from the shadow scorer's thread, never the request
        path): one try, since a comparison loses little by a missing batch; whether written."""
        try:
            engine = self._store.engine()
            with engine.begin() as connection:
                bulk.write_shadow(connection, engine.dialect.name, rows)
        except Exception as exc:  # noqa: BLE001 - any store failure: counted by the caller
            self._store.failed()
            log.warning("prediction log: %d shadow predictions not written: %s", len(rows), exc)
            return False
        return True

    def _failed(self, unwritten: list[tuple], exc: Exception) -> None:
        self.failures.inc()
        self._store.failed()
        rows = sum(len(records) for _, records, _, _ in unwritten)
        with self._lock:
            self._writing_rows = 0
            # Newer records arrived meanwhile; what no longer fits the buffer is dropped.
            room = self.settings.buffer_rows - self._pending_rows
            kept, kept_rows = [], 0
            for item in unwritten:
                if kept_rows + len(item[1]) > room:
                    break
                kept.append(item)
                kept_rows += len(item[1])
            self._retry, self._retry_rows = kept, kept_rows
        if rows > kept_rows:
            self.dropped.inc(rows - kept_rows)
        if not self._failing:
            log.warning("prediction log: write failed, keeping %d records: %s", rows, exc)
            self._failing = True

    def prune(self) -> int:
        """Delete rows older than the retention setting (and the actuals of deleted rows)."""
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        if not self.settings.retention_days:
            return 0
        cutoff = datetime.now(UTC).replace(tzinfo=None) - timedelta(
            days=self.settings.retention_days
        )
        try:
            engine = self._store.engine()
            with engine.begin() as connection:
                deleted = connection.execute(
                    delete(predictions).where(predictions.c.logged_at < cutoff)
                ).rowcount
                same_record = and_(
                    predictions.c.request_id == actuals.c.request_id,
                    predictions.c.record_index == actuals.c.record_index,
                )
                connection.execute(delete(actuals).where(~exists().where(same_record)))
                connection.execute(
                    delete(shadow_predictions).where(shadow_predictions.c.logged_at < cutoff)
                )
        except Exception as exc:  # noqa: BLE001 - tried again at the next round
            log.warning("prediction log: pruning failed: %s", exc)
            self._next_prune = time.monotonic() + self.settings.flush_interval_s * 20
            return 0
        self.pruned.inc(deleted)
        return deleted
