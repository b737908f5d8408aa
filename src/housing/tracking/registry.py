"""The registry's aliases and the promotion gate."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import asdict, dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from housing import defaults

CHAMPION = defaults.CHAMPION_ALIAS
CHALLENGER = defaults.CHALLENGER_ALIAS


@dataclass(frozen=True)
class GateDecision:
    name: str
    version: str
    rmse: float
    promoted: bool
    champion_version: str
    champion_rmse: float | None
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def version_by_alias(client: MlflowClient, name: str, alias: str):
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def apply_gate(
    client: MlflowClient,
    name: str,
    version: str,
    rmse: float,
    test_fingerprint: str,
    rescore_champion: Callable[[str], float],
) -> GateDecision:
    """Give `version` the challenger alias; make it champion only if it beats the champion.

    The champion's RMSE is taken from its run when that run was scored on the same test split
    (same fingerprint); otherwise the champion is scored again on this split, so that the two
    numbers are always comparable.

    Right before the alias moves, the champion is read again: when another trainer (or a person)
    moved it while this gate decided, this version is not promoted. MLflow has no compare-and-set
    on aliases, so this narrows the window to two calls; it does not close it.
    """
    client.set_registered_model_alias(name, CHALLENGER, version)
    current = version_by_alias(client, name, CHAMPION)
    if current is None:
        return promote_unless_moved(client, name, version, rmse, None, None, "no champion yet")
    champion_rmse = _champion_rmse(client, current, test_fingerprint, rescore_champion)
    if rmse < champion_rmse:
        reason = f"RMSE {rmse:,.0f} beats champion v{current.version}'s {champion_rmse:,.0f}"
        return promote_unless_moved(
            client, name, version, rmse, current.version, champion_rmse, reason
        )
    reason = f"RMSE {rmse:,.0f} does not beat champion v{current.version}'s {champion_rmse:,.0f}"
    client.set_model_version_tag(name, version, "gate", reason)
    return GateDecision(name, version, rmse, False, current.version, champion_rmse, reason)


def _champion_rmse(client, current, fingerprint: str, rescore: Callable[[str], float]) -> float:
    run = client.get_run(current.run_id) if current.run_id else None
    if run is not None and run.data.tags.get(defaults.TEST_SPLIT_TAG) == fingerprint:
        if "rmse" in run.data.metrics:
            return float(run.data.metrics["rmse"])
    return rescore(f"models:/{current.name}/{current.version}")


def promote_unless_moved(
    client, name, version, rmse, decided_on: str | None, champion_rmse, reason
) -> GateDecision:
    now = version_by_alias(client, name, CHAMPION)
    if (now.version if now else None) != decided_on:
        moved = (
            f"not promoted: the champion moved to v{now.version if now else '-'} while the "
            f"gate compared with v{decided_on or '-'}; run the gate again"
        )
        client.set_model_version_tag(name, version, "gate", moved)
        return GateDecision(
            name, version, rmse, False, now.version if now else "-", champion_rmse, moved
        )
    return _promote(client, name, version, rmse, champion_rmse, reason)


def _promote(client, name, version, rmse, champion_rmse, reason) -> GateDecision:
    client.set_registered_model_alias(name, CHAMPION, version)
    client.set_model_version_tag(name, version, "gate", f"promoted: {reason}")
    return GateDecision(name, version, rmse, True, version, champion_rmse, reason)


def promote_by_hand(client: MlflowClient, name: str, version: str, reason: str) -> str | None:
    """Move `champion` to `version` for a person's reason, recorded on the version."""
    client.get_model_version(name, version)  # raises if it does not exist
    previous = version_by_alias(client, name, CHAMPION)
    client.set_registered_model_alias(name, CHAMPION, version)
    who = getpass.getuser()
    client.set_model_version_tag(name, version, "gate", f"promoted by hand by {who}: {reason}")
    client.set_registered_model_tag(
        name,
        "last_manual_promotion",
        f"v{previous.version if previous else '-'} -> v{version} by {who}: {reason}",
    )
    return previous.version if previous else None
