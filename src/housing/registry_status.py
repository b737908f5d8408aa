"""`housing status`: what the registry's aliases name, with their metrics, and what each
predictor serves now, as lines for a person."""

from __future__ import annotations

from housing.defaults import CHALLENGER_ALIAS, CHAMPION_ALIAS
from housing.settings import TrainingSettings

SHOWN_METRICS = ("rmse", "mae", "r2", "cv_rmse_mean")


def describe(settings: TrainingSettings, predictor_urls: list[str]) -> list[str]:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from housing.tracking.server import ensure_reachable

    ensure_reachable(settings.tracking_uri, settings.tracking_timeout_s)
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    lines = [f"{settings.model_name} at {settings.tracking_uri}"]
    for alias in (CHAMPION_ALIAS, CHALLENGER_ALIAS):
        try:
            version = client.get_model_version_by_alias(settings.model_name, alias)
        except MlflowException:
            lines.append(f"  {alias}: none")
            continue
        metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
        shown = "  ".join(_metric(name, metrics[name]) for name in SHOWN_METRICS if name in metrics)
        lines.append(f"  {alias}: v{version.version} (run {version.run_id})  {shown}".rstrip())
    lines += [f"  predictor {url}: {_served(url)}" for url in predictor_urls]
    return lines


def _metric(name: str, value: float) -> str:
    return f"{name} {value:.3f}" if name == "r2" else f"{name} {value:,.0f}"


def _served(url: str) -> str:
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/model", timeout=3)
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"
    if response.status_code != 200:
        return f"no model ({response.status_code})"
    model = response.json()
    return f"v{model['version']} ({model['alias']}, run {model['run_id']})"
