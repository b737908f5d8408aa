"""The service's loop: a pass at start, then one every MONITOR_INTERVAL_S, each in a thread (a
pass is seconds of pandas and Evidently; the event loop keeps answering)."""

from __future__ import annotations

import asyncio
import logging
import time

from housing.failures import first_line
from housing.monitor.run import Monitor, latest
from housing.monitor.settings import MonitorSettings
from housing.predictions.settings import PredictionLogSettings
from monitor.gauges import Gauges

log = logging.getLogger("monitor")
# After a failed pass the next comes this soon (or at the interval, if shorter): a store back
# from an outage is seen within seconds, not a whole interval later.
RETRY_AFTER_FAILURE_S = 15.0


class PassLoop:
    def __init__(self, settings: MonitorSettings, log_settings: PredictionLogSettings, gauges):
        self.settings = settings
        self.log_settings = log_settings
        self.gauges: Gauges = gauges
        self.monitor: Monitor | None = None
        # The last summary written, also across a restart (until the first pass replaces it).
        self.latest: dict | None = latest(settings.state_dir)
        self.last_error: str | None = None
        self.passes = 0

    def run_once(self) -> dict:
        if self.monitor is None:
            self.monitor = Monitor(
                self.settings, self.log_settings.url, self.log_settings.connect_timeout_s
            )
        try:
            return self.monitor.run()
        except Exception:
            self.close()  # the next pass opens the log again (it may have moved or come back)
            raise

    async def run_forever(self) -> None:
        while True:
            started = time.monotonic()
            wait_s = self.settings.interval_s
            try:
                summary = await asyncio.to_thread(self.run_once)
            except Exception as exc:  # noqa: BLE001 - any failure: counted, said, tried again
                self.last_error = first_line(exc)
                self.gauges.failures.inc()
                wait_s = min(wait_s, RETRY_AFTER_FAILURE_S)
                log.warning("monitoring pass failed: %s", self.last_error)
            else:
                self.latest, self.last_error = summary, None
                self.gauges.update(summary)
                log.info(
                    "monitoring pass: %d predictions, %d labelled, %.1f s",
                    summary["predictions"],
                    summary["labelled"],
                    summary["seconds"],
                )
            self.passes += 1
            await asyncio.sleep(max(0.0, wait_s - (time.monotonic() - started)))

    def close(self) -> None:
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None
