"""API keys and per-key rate limits."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass


class AuthError(Exception):
    pass


class RateLimited(Exception):
    def __init__(self, retry_after_s: int):
        self.retry_after_s = retry_after_s


class ApiKeys:
    def __init__(self, keys: list[str]):
        # Keys are compared as SHA-256 digests: equal length, and the plain keys are not kept.
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    def identify(self, presented: str | None) -> str:
        """The caller's key id (a digest prefix, safe to log and label), or AuthError."""
        if not presented:
            raise AuthError("missing API key: send it in X-API-Key or Authorization: Bearer")
        digest = hashlib.sha256(presented.encode()).digest()
        match = False
        for known in self._digests:  # no early exit: the time taken says nothing about the key
            match |= hmac.compare_digest(digest, known)
        if not match:
            raise AuthError("invalid API key")
        return digest.hex()[:12]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key, counted in records: `rate` records a second on average, bursts up
    to `burst`. A request starts when its key's bucket is not empty and pays for all its
    records (`charge`), so one batch may take the bucket below zero: that key then waits until
    the debt is refilled. A batch is never refused for its size alone (the record limit is)."""

    def __init__(self, rate_per_s: float, burst: int):
        self.rate = rate_per_s
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> None:
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            raise RateLimited(max(1, math.ceil((1.0 - bucket.tokens) / self.rate)))
        bucket.tokens -= 1.0

    def charge(self, key: str, records: int) -> None:
        """The rest of a request's cost, once its records are counted (`take` paid for one)."""
        if records > 1 and key in self._buckets:
            self._buckets[key].tokens -= records - 1


class TooBusy(Exception):
    """The key has as many requests in flight as it may."""


class InFlight:
    """Requests in flight per key, at most `limit` at once: one key cannot take every predictor
    (and every connection of the gateway) with slow batches."""

    def __init__(self, limit: int):
        self.limit = limit
        self._counts: dict[str, int] = {}

    def enter(self, key: str) -> None:
        count = self._counts.get(key, 0)
        if count >= self.limit:
            raise TooBusy
        self._counts[key] = count + 1

    def leave(self, key: str) -> None:
        count = self._counts.get(key, 1) - 1
        if count:
            self._counts[key] = count
        else:
            self._counts.pop(key, None)
