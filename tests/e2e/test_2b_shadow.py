"""The challenger in shadow in the compose stack, as an operator meets it: the predictor scores the
challenger on the same requests as the champion, `GET /monitor` compares the two on the labelled
ones, and `housing promote --from-shadow` (run in the trainer's container) refuses a worse
challenger and promotes a better one.

The two models are the stack's own: the first (fewer trees) and the one the retrain suite
registered from params.yaml; the aliases are set by hand to make each the challenger in turn."""

from __future__ import annotations

import json
import time

import numpy as np

from housing import defaults
from housing.contract import TARGET
from tests.e2e.conftest import compose, predictor_get, served_version, wait_until
from tests.e2e.test_1b_monitor import monitor, send

SENT = 300


def alias(registry, name: str, version: str) -> None:
    body = {"name": registry.name, "alias": name, "version": version}
    registry.post("registered-models/alias", body)


def shadowing() -> str | None:
    described = json.loads(predictor_get("/model"))
    return (described.get("shadow") or {}).get("version")


def pair_of(gateway: str, key: str, challenger: str, labelled: int, timeout_s: float = 120) -> dict:
    """The monitor's comparison for `challenger` once it counts `labelled` labelled records."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = monitor(gateway, key).get("shadow", {}).get(challenger)
        if found and found["labelled"] >= labelled:
            return found
        assert time.monotonic() < deadline, f"no pass compared v{challenger}: {found}"
        time.sleep(1)


def promote_from_shadow() -> tuple[int, str]:
    done = compose(
        "run", "--rm", "--no-deps", "-e", f"MONITOR_SHADOW_MIN_LABELLED={SENT}",
        "trainer", "housing", "promote", "--from-shadow",
        check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def trial(registry, gateway, key, split, champion: str, challenger: str, seed: int):
    """Aliases set, the stack serving `champion` and shadowing `challenger`; SENT labelled
    test districts through the edge; what the monitor then says, and the client's RMSE."""
    alias(registry, defaults.CHAMPION_ALIAS, champion)
    alias(registry, defaults.CHALLENGER_ALIAS, challenger)
    wait_until(lambda: served_version(gateway, key) == champion, 60, f"v{champion} served")
    wait_until(lambda: shadowing() == challenger, 60, f"v{challenger} in shadow")
    districts = split[1].sample(SENT, random_state=seed)
    predicted = send(gateway, key, districts, feedback=True)
    client_rmse = float(np.sqrt(np.mean((predicted - districts[TARGET].to_numpy()) ** 2)))
    return pair_of(gateway, key, challenger, SENT), client_rmse


def test_a_challenger_in_shadow_is_promoted_only_when_better(registry, gateway, api_key, split):
    found = registry.get("model-versions/search", filter=f"name='{registry.name}'")
    by_rmse = {}
    for version in found["model_versions"]:
        run = registry.get("runs/get", run_id=version["run_id"])["run"]
        by_rmse[version["version"]] = run["data"]["metrics"]
    rmse = {v: next(m["value"] for m in ms if m["key"] == "rmse") for v, ms in by_rmse.items()}
    best, worst = min(rmse, key=rmse.get), max(rmse, key=rmse.get)
    assert rmse[worst] > rmse[best] * 1.05, rmse  # the stack's versions differ truly

    pair, client_rmse = trial(registry, gateway, api_key, split, best, worst, seed=21)
    assert pair["champion"] == best and pair["labelled"] == SENT, pair
    assert abs(pair["rmse"]["champion"] / client_rmse - 1) < 1e-3, (pair, client_rmse)
    assert pair["rmse"]["challenger"] > pair["rmse"]["champion"]
    code, said = promote_from_shadow()
    assert code == 1 and "not promoted: not better by the margin" in said, said
    assert registry.champion() == best
    print(f"\nworse challenger v{worst} in shadow: {pair['rmse']}; {said.strip()[-300:]}")

    pair, client_rmse = trial(registry, gateway, api_key, split, worst, best, seed=22)
    assert pair["champion"] == worst and pair["labelled"] == SENT, pair
    assert abs(pair["rmse"]["champion"] / client_rmse - 1) < 1e-3, (pair, client_rmse)
    code, said = promote_from_shadow()
    assert code == 0 and f"champion is now v{best}" in said, said
    assert registry.champion() == best
    wait_until(lambda: served_version(gateway, api_key) == best, 60, f"v{best} served again")
    print(f"better challenger v{best} in shadow: {pair['rmse']}; {said.strip()[-300:]}")
