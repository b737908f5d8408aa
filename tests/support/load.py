"""A steady client load for tests against a running stack."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx

from housing.contract import EXAMPLE_RECORD
from tests.support.procs import wait_until


class SteadyLoad:
    """One client sending predictions, one at a time; records the status and time of each (0: no
    answer), and what each failure said (`errors`: its start, and its status with the start of
    the body, or the exception). `verify` as httpx takes it (True: the system's roots, or
    SSL_CERT_FILE)."""

    def __init__(self, gateway: str, key: str, pause_s: float = 0.01, body=None, verify=True):
        self.url, self.key, self.pause_s, self.verify = f"{gateway}/predict", key, pause_s, verify
        self.body = EXAMPLE_RECORD if body is None else body
        self.busy = False  # a request is on its way now
        self.results: list[tuple[float, int, float]] = []  # (start, status, seconds)
        self.errors: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        headers = {"X-API-Key": self.key}
        with httpx.Client(timeout=10, headers=headers, verify=self.verify) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                self.busy = True
                try:
                    response = client.post(self.url, json=self.body)
                    status = response.status_code
                    if status != 200:
                        self.errors.append((started, f"{status}: {response.text[:160]}"))
                except httpx.HTTPError as exc:
                    status = 0
                    self.errors.append((started, f"{type(exc).__name__}: {exc}"))
                self.busy = False
                self.results.append((started, status, time.monotonic() - started))
                time.sleep(self.pause_s)

    def __enter__(self):
        self._thread.start()
        self.wait_for(10)
        return self

    def wait_for(self, more: int, timeout_s: float = 30) -> None:
        """Until `more` requests beyond those made so far have been answered."""
        target = len(self.results) + more
        wait_until(lambda: len(self.results) >= target, timeout_s, f"{more} more requests")

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=20)

    def failed(self, since: float = 0.0) -> int:
        return sum(1 for t, s, _ in self.results if t >= since and s != 200)

    def failed_statuses(self, since: float = 0.0, until: float = float("inf")) -> dict[int, int]:
        """How many requests started in [since, until) failed, by status (0: no answer)."""
        return dict(Counter(s for t, s, _ in self.results if since <= t < until and s != 200))

    def failures(self, since: float = 0.0) -> str:
        """The failures among requests started from `since`: how many by status, over which
        seconds after it, and what the first and last said."""
        failed = [(t, s) for t, s, _ in self.results if t >= since and s != 200]
        if not failed:
            return "none"
        said = [text for t, text in self.errors if t >= since]
        return (
            f"{self.failed_statuses(since)} from {failed[0][0] - since:.1f} s to "
            f"{failed[-1][0] - since:.1f} s; first: {said[:2]}; last: {said[-2:]}"
        )

    def count(self, since: float = 0.0, until: float = float("inf")) -> tuple[int, int]:
        """(requests, failed) among those started in [since, until)."""
        window = [s for t, s, _ in self.results if since <= t < until]
        return len(window), sum(1 for s in window if s != 200)
