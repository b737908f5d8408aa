"""The files that must spell out a value (compose.yaml, the Dockerfile, the workflows) say the
same as its one definition: housing/defaults.py, or pyproject.toml for the Python version."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import httpx
import yaml

from housing import defaults

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _python_minor() -> str:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    found = re.fullmatch(r"==(\d+\.\d+)\.\*", spec)
    assert found, f"requires-python names one minor version: {spec}"
    return found.group(1)


def test_one_python_minor_version_for_ci_the_images_and_install():
    minor = _python_minor()
    assert f"ARG PYTHON_IMAGE=python:{minor}-slim" in DOCKERFILE
    assert DOCKERFILE.count("ARG PYTHON_IMAGE") == 1
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == minor
    for workflow in (ROOT / ".github/workflows").glob("*.yml"):
        text = workflow.read_text()
        assert "python-version:" not in text, f"{workflow.name}: use python-version-file"


def _default(value: str) -> str:
    """`${VAR:-default}` -> default; a plain value as it is."""
    found = re.fullmatch(r"\$\{\w+:-([^}]*)\}", str(value))
    return found.group(1) if found else str(value)


def test_compose_addresses_use_the_defined_ports():
    services = COMPOSE["services"]
    mlflow_url = httpx.URL(services["trainer"]["environment"]["MLFLOW_TRACKING_URI"])
    assert mlflow_url.port == defaults.MLFLOW_PORT
    assert services["predictor"]["environment"]["MLFLOW_TRACKING_URI"] == str(mlflow_url)
    predictor_url = httpx.URL(services["gateway"]["environment"]["PREDICTOR_URLS"])
    assert predictor_url.port == defaults.PREDICTOR_PORT
    (gateway_port,) = services["gateway"]["ports"]
    assert gateway_port["target"] == defaults.GATEWAY_PORT
    assert int(_default(gateway_port["published"])) == defaults.GATEWAY_PORT
    (ui_port,) = services["mlflow"]["ports"]
    assert ui_port["target"] == defaults.MLFLOW_PORT
    assert f"ENV MLFLOW_PORT={defaults.MLFLOW_PORT}" in DOCKERFILE


def test_compose_leaves_the_code_defaults_to_the_code():
    """Settings with a default in code are passed through unset, never given a second default."""
    for name, service in COMPOSE["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if variable.startswith(("HOUSING_", "PREDICTOR_", "GATEWAY_", "TRAINER_")):
                assert value is None or "${" not in str(value) or ":?" in str(value), (
                    f"{name}: {variable}={value} repeats a default that lives in the code"
                )
