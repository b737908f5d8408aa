"""`housing promote --from-shadow`: make the challenger champion when, scored in shadow on the
same live records as the champion, it did better by the margin (MONITOR_SHADOW_MARGIN) on
enough labelled ones (MONITOR_SHADOW_MIN_LABELLED); the figures are the recorded reason."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mlflow import MlflowClient
from sqlalchemy.engine import Engine

from housing.monitor import shadow
from housing.monitor.settings import MonitorSettings
from housing.tracking.registry import CHALLENGER, CHAMPION, promote_unless_moved, version_by_alias

SHADOW_TAG = "shadow"  # on the challenger's version: the figures the decision read


@dataclass(frozen=True)
class ShadowVerdict:
    promoted: bool
    reason: str
    champion: str | None  # the champion's version after the decision
    figures: dict | None  # the pair's comparison (housing.monitor.shadow.compare)


def judge(pair: dict, challenger: str, settings: MonitorSettings) -> tuple[bool, str]:
    """Whether the pair's figures promote `challenger`, and why (or why not) in one line."""
    rmse, labelled, champion = pair["rmse"], pair["labelled"], pair["champion"]
    if labelled < settings.shadow_min_labelled:
        return False, (
            f"v{challenger} and champion v{champion} share {labelled} labelled records in the "
            f"window; a decision needs {settings.shadow_min_labelled} (MONITOR_SHADOW_MIN_LABELLED)"
        )
    change = "" if pair["rmse_change"] is None else f"{pair['rmse_change']:+.1%}; "
    figures = (
        f"on {labelled} labelled live records, v{challenger}'s RMSE {rmse['challenger']:,.0f} "
        f"against champion v{champion}'s {rmse['champion']:,.0f} "
        f"({change}needs -{settings.shadow_margin:.1%} or lower)"
    )
    if rmse["challenger"] <= rmse["champion"] * (1 - settings.shadow_margin):
        return True, f"in shadow {figures}"
    return False, f"not better by the margin (MONITOR_SHADOW_MARGIN) {figures}"


def promote_from_shadow(
    client: MlflowClient,
    name: str,
    engine: Engine,
    settings: MonitorSettings,
    now: datetime | None = None,
) -> ShadowVerdict:
    champion = version_by_alias(client, name, CHAMPION)
    challenger = version_by_alias(client, name, CHALLENGER)
    if challenger is None:
        return ShadowVerdict(False, f"{name} has no {CHALLENGER} alias", _v(champion), None)
    if champion is not None and challenger.version == champion.version:
        return ShadowVerdict(
            False,
            f"the challenger v{challenger.version} is the champion already",
            _v(champion),
            None,
        )
    end = (now or datetime.now(UTC)).replace(tzinfo=None)
    start = end - timedelta(hours=settings.window_hours)
    pairs = shadow.compare(shadow.read(engine, start, end, settings.max_rows))
    pair = pairs.get(challenger.version)
    if pair is None:
        return ShadowVerdict(
            False,
            f"v{challenger.version} scored no live record in shadow in the last "
            f"{settings.window_hours:g} h (are the predictors run with "
            f"PREDICTOR_SHADOW_ALIAS={CHALLENGER}?)",
            _v(champion),
            None,
        )
    if champion is None or pair["champion"] != champion.version:
        return ShadowVerdict(
            False,
            f"v{challenger.version}'s latest shadow records were answered by v{pair['champion']}, "
            f"not by the champion v{_v(champion) or '-'}: compare again once it has served",
            _v(champion),
            pair,
        )
    promote, reason = judge(pair, challenger.version, settings)
    client.set_model_version_tag(
        name, challenger.version, SHADOW_TAG, json.dumps({**pair, "promoted": promote})
    )
    if not promote:
        return ShadowVerdict(False, reason, champion.version, pair)
    decision = promote_unless_moved(
        client,
        name,
        challenger.version,
        pair["rmse"]["challenger"],
        champion.version,
        pair["rmse"]["champion"],
        reason,
    )
    return ShadowVerdict(decision.promoted, decision.reason, decision.champion_version, pair)


def _v(version) -> str | None:
    return None if version is None else version.version
