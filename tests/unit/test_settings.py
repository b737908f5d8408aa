"""Each service's settings read the documented variables (prefix or MLflow's own name)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.settings import GatewaySettings
from housing import defaults
from housing.settings import TrainingSettings
from predictor.settings import PredictorSettings
from trainer.settings import TrainerSettings

KEY = "env-key-0123456789abcdef"


OURS = ("HOUSING_", "PREDICTOR_", "GATEWAY_", "TRAINER_", "TRAIN_PARAMS", "MLFLOW_")


@pytest.fixture
def env(monkeypatch):
    """Set these variables, with none of ours (or MLflow's) left from elsewhere in the run."""
    for name in [n for n in os.environ if n.startswith(OURS)]:
        monkeypatch.delenv(name)

    def setenv(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))

    return setenv


def test_defaults_come_from_housing_defaults(env):
    env(GATEWAY_API_KEYS=KEY)
    gateway, predictor, training = GatewaySettings(), PredictorSettings(), TrainingSettings()
    assert gateway.port == defaults.GATEWAY_PORT and predictor.port == defaults.PREDICTOR_PORT
    assert gateway.predictor_urls == [f"http://127.0.0.1:{defaults.PREDICTOR_PORT}"]
    assert predictor.model_name == training.model_name == defaults.MODEL_NAME
    assert predictor.tracking_uri == training.tracking_uri == defaults.LOCAL_TRACKING_URI
    assert gateway.max_body_bytes == predictor.max_body_bytes == defaults.MAX_BODY_BYTES
    assert gateway.max_records == predictor.max_records == defaults.MAX_RECORDS
    assert predictor.model_alias == defaults.CHAMPION_ALIAS


def test_gateway_reads_its_variables(env):
    env(
        GATEWAY_API_KEYS=f"{KEY},other-key-0123456789abcdef",
        PREDICTOR_URLS="http://a:1/, http://b:2",
        GATEWAY_RATE_PER_S=7,
        GATEWAY_RATE_BURST=9,
        GATEWAY_RESOLVE_REPLICAS="true",
        GATEWAY_PORT=9000,
    )
    s = GatewaySettings()
    assert s.keys() == [KEY, "other-key-0123456789abcdef"]
    assert s.predictor_urls == ["http://a:1", "http://b:2"]
    assert (s.rate_per_s, s.rate_burst, s.resolve_replicas, s.port) == (7, 9, True, 9000)


def test_predictor_and_training_read_theirs(env):
    env(
        MLFLOW_TRACKING_URI="http://mlflow:1",
        HOUSING_MODEL_NAME="m",
        PREDICTOR_MODEL_ALIAS="challenger",
        PREDICTOR_POLL_INTERVAL_S=2,
        PREDICTOR_CACHE_DIR="/c",
        HOUSING_DATA_URL="file:///d.csv",
        HOUSING_TRACKING_TIMEOUT_S=3,
        MLFLOW_EXPERIMENT_NAME="e",
    )
    p, t = PredictorSettings(), TrainingSettings()
    assert (p.tracking_uri, p.model_name, p.model_alias) == ("http://mlflow:1", "m", "challenger")
    assert (p.poll_interval_s, p.cache_dir) == (2, Path("/c"))
    assert (t.tracking_uri, t.model_name, t.data_url) == ("http://mlflow:1", "m", "file:///d.csv")
    assert (t.tracking_timeout_s, t.experiment) == (3, "e")


def test_trainer_reads_its_variables(env):
    env(TRAIN_PARAMS="train.max_iter=5", TRAINER_FORCE="true", TRAINER_DVC_REMOTE="r")
    s = TrainerSettings()
    assert (s.train_params, s.force, s.dvc_remote) == ("train.max_iter=5", True, "r")


def documented_settings(known: dict) -> list[tuple[str, str]]:
    """(variable, default cell) of every row of README's settings tables; a cell naming two
    (`PREDICTOR_HOST` / `_PORT`, `GATEWAY_API_KEYS` / `_FILE`) gives both, each with its share
    of the default cell."""
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = []
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) < 2:
            continue
        for name_cell, default_cell in zip(cells[0::3], cells[1::3], strict=False):
            names = re.findall(r"`([A-Z_][A-Z0-9_]*)`", name_cell)
            if not names:
                continue
            first = names[0]
            full = [first] + [completed(first, suffix, known) for suffix in names[1:]]
            shares = default_cell.split(" / ") if len(full) > 1 else [default_cell]
            rows += zip(full, shares + [shares[-1]] * (len(full) - len(shares)), strict=False)
    return rows


def completed(first: str, suffix: str, known: dict) -> str:
    """`_PORT` after `PREDICTOR_HOST`: the variable of `first`'s stem and the suffix that exists."""
    parts = first.split("_")
    stems = [first] + ["_".join(parts[:k]) for k in range(len(parts) - 1, 0, -1)]
    candidates = [stem + suffix for stem in stems]
    return next((c for c in candidates if c in known), candidates[0])


def env_defaults() -> dict[str, object]:
    """Every settings class's variables with their defaults (None: required or a secret)."""
    from housing.monitor.settings import MonitorSettings
    from housing.predictions.settings import PredictionLogSettings

    found: dict[str, object] = {}
    for cls in (TrainingSettings, PredictorSettings, GatewaySettings, TrainerSettings,
                PredictionLogSettings, MonitorSettings):  # fmt: skip
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            found[(alias or prefix + name).upper()] = field.get_default(call_default_factory=True)
    return found


def same(documented: str, default: object) -> bool:
    """A README cell (`8001`, `true`, 8 MiB, `.cache/predictor`) against a field's default."""
    import re

    if "required" in documented:
        return default in (None, [])  # a secret: no default
    mib = re.fullmatch(r"(\d+) MiB", documented.strip())
    quoted = re.findall(r"`([^`]*)`", documented) or [""]
    shown = str(int(mib.group(1)) << 20) if mib else quoted[0]
    if "…" in shown:  # shortened for the page
        head, tail = shown.split("…")
        return str(default).startswith(head) and str(default).endswith(tail)
    if isinstance(default, bool):
        return shown == str(default).lower()
    if isinstance(default, list):
        return shown == ",".join(str(v) for v in default)
    if isinstance(default, int | float):
        return float(shown.replace(",", "")) == float(default)
    if "Géron" in documented:
        return "handson-ml2" in str(default) and "housing.csv" in str(default)
    return shown == str(default)


def test_every_setting_in_the_readme_is_a_setting_with_that_default():
    known = env_defaults()
    documented = documented_settings(known)
    assert len(documented) >= 30, documented
    unknown = [name for name, _ in documented if name not in known]
    assert not unknown, f"README names settings no class reads: {unknown}"
    wrong = [(n, cell, known[n]) for n, cell in documented if not same(cell, known[n])]
    assert not wrong, f"README's default differs from the code's: {wrong}"
