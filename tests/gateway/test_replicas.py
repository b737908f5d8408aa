"""gateway.replicas.ReplicaSet on its own: selection in turn, ejection, readiness, recovery."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client import CollectorRegistry

from gateway.replicas import NoUpstream, ReplicaSet

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def replica_set(*urls: str, ready=lambda host: True, cooldown_s: float = 30.0) -> ReplicaSet:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if ready(request.url.host) else 503)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return ReplicaSet(list(urls), client, cooldown_s, 60.0, CollectorRegistry())


def test_usable_replicas_take_turns():
    replicas = replica_set("http://a:1", "http://b:1", "http://c:1")
    picked = [replicas.pick().url for _ in range(6)]
    assert sorted(picked) == sorted(["http://a:1", "http://b:1", "http://c:1"] * 2)
    assert picked[:3] == picked[3:]


def test_exclude_gives_another_replica_or_none():
    replicas = replica_set("http://a:1", "http://b:1")
    first = replicas.pick()
    assert all(replicas.pick(exclude=first) is not first for _ in range(4))
    alone = replica_set("http://a:1")
    with pytest.raises(NoUpstream):
        alone.pick(exclude=alone.pick())


def test_an_ejected_replica_rests_for_its_cooldown_then_returns():
    replicas = replica_set("http://a:1", "http://b:1", cooldown_s=0.2)
    a, b = replicas.replicas
    replicas.eject(a, "test")
    assert {replicas.pick().url for _ in range(4)} == {b.url}
    replicas.eject(b, "test")
    assert not replicas.any_ready()
    with pytest.raises(NoUpstream):
        replicas.pick()
    time.sleep(0.25)
    assert {replicas.pick().url for _ in range(4)} == {a.url, b.url}


async def test_probes_mark_readiness_and_a_recovered_replica_gets_traffic_at_once():
    up = {"a": True, "b": False}
    replicas = replica_set("http://a:1", "http://b:1", ready=lambda host: up[host])
    await replicas.probe_all()
    assert [r.ready for r in replicas.replicas] == [True, False]
    a, b = replicas.replicas
    replicas.eject(b, "failed while down")
    up["b"] = True
    await replicas.probe_all()
    assert b.ready and b.usable(time.monotonic())  # back: its ejection is lifted
    assert {replicas.pick().url for _ in range(4)} == {a.url, b.url}
    await replicas.client.aclose()
