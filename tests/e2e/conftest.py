"""End-to-end tests against the running compose stack (`make e2e` starts it and sets HOUSING_E2E).

They talk to the stack only as a user would: the edge's published ports (HTTPS, trusting the
root certificate of Caddy's internal CA, as a client of a `localhost` stack is told to), the
MLflow UI's, and the docker compose CLI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from housing import defaults
from tests.support.edge import EDGE_ROOT_CERT
from tests.support.procs import wait_until  # noqa: F401 - the e2e tests import it from here
from tests.support.suites import skip_unless_enabled

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    skip_unless_enabled(items, "HOUSING_E2E", "e2e", "needs the compose stack: run `make e2e`")


def dotenv() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def secret(name: str) -> str:
    """A secret of the stack, from the file compose mounts (scripts/dev-env.sh writes them)."""
    return (ROOT / "secrets" / name.lower()).read_text().strip()


def admin_auth() -> tuple[str, str]:
    return ("admin", secret("MLFLOW_ADMIN_PASSWORD"))


@pytest.fixture(scope="session", autouse=True)
def mlflow_admin_credentials():
    """MLflow's client, used by some tests against the published UI port, logs in as the admin."""
    if os.environ.get("HOUSING_E2E") != "1":
        yield
        return
    username, password = admin_auth()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_USERNAME", username)
        env.setenv("MLFLOW_TRACKING_PASSWORD", password)
        yield


def compose(*args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["docker", "compose", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker compose {' '.join(args)}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session", autouse=True)
def trust_the_edge(tmp_path_factory):
    """Every HTTPS client of the session (httpx, and requests under schemathesis) trusts the root
    of the edge's internal CA, and nothing else: no test turns verification off."""
    if os.environ.get("HOUSING_E2E") != "1":
        yield
        return
    root = tmp_path_factory.mktemp("edge") / "root.crt"
    root.write_text(compose("exec", "-T", "edge", "cat", EDGE_ROOT_CERT).stdout)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SSL_CERT_FILE", str(root))
        env.setenv("REQUESTS_CA_BUNDLE", str(root))
        yield root


@pytest.fixture(scope="session")
def api_key() -> str:
    return os.environ.get("GATEWAY_API_KEYS") or secret("GATEWAY_API_KEYS").split(",")[0]


@pytest.fixture(scope="session")
def gateway() -> str:
    """The API as its clients reach it: through the edge, over HTTPS."""
    return f"https://localhost:{os.environ.get('HTTPS_PORT', 443)}"


@pytest.fixture(scope="session")
def plain_http() -> str:
    """The edge's port 80, which answers with a redirect to HTTPS."""
    return f"http://localhost:{os.environ.get('HTTP_PORT', 80)}"


@pytest.fixture(scope="session")
def mlflow_ui() -> str:
    return f"http://127.0.0.1:{os.environ.get('MLFLOW_UI_PORT', defaults.MLFLOW_PORT)}"


class Registry:
    """MLflow's REST API through the UI's published port, as its admin."""

    def __init__(self, base: str, name: str):
        self.base, self.name = base, name

    def get(self, path: str, **params) -> dict:
        response = httpx.get(
            f"{self.base}/api/2.0/mlflow/{path}", params=params, auth=admin_auth(), timeout=10
        )
        response.raise_for_status()
        return response.json()

    def champion(self) -> str:
        alias = defaults.CHAMPION_ALIAS
        found = self.get("registered-models/alias", name=self.name, alias=alias)
        return found["model_version"]["version"]

    def post(self, path: str, body: dict, method: str = "POST") -> dict:
        response = httpx.request(
            method, f"{self.base}/api/2.0/mlflow/{path}", json=body, auth=admin_auth(), timeout=30
        )
        response.raise_for_status()
        return response.json()

    def model_tags(self) -> dict[str, str]:
        found = self.get("registered-models/get", name=self.name)["registered_model"]
        return {tag["key"]: tag["value"] for tag in found.get("tags", [])}

    def versions(self) -> list[str]:
        found = self.get("model-versions/search", filter=f"name='{self.name}'")
        return sorted(v["version"] for v in found.get("model_versions", []))

    def runs(self) -> list[str]:
        experiment = self.get("experiments/get-by-name", experiment_name="housing")
        response = httpx.post(
            f"{self.base}/api/2.0/mlflow/runs/search",
            json={"experiment_ids": [experiment["experiment"]["experiment_id"]]},
            auth=admin_auth(),
            timeout=10,
        )
        response.raise_for_status()
        return sorted(r["info"]["run_id"] for r in response.json().get("runs", []))


@pytest.fixture(scope="session")
def registry(mlflow_ui) -> Registry:
    return Registry(mlflow_ui, os.environ.get("HOUSING_MODEL_NAME", defaults.MODEL_NAME))


def served_version(gateway: str, key: str) -> str:
    from housing.contract import EXAMPLE_RECORD

    response = httpx.post(
        f"{gateway}/predict", json=EXAMPLE_RECORD, headers={"X-API-Key": key}, timeout=10
    )
    response.raise_for_status()
    return response.json()["model"]["version"]


def served_run(gateway: str, key: str) -> tuple[str, str] | None:
    """(version, run id) of the model that answers a prediction; None while none can."""
    from housing.contract import EXAMPLE_RECORD

    try:
        response = httpx.post(
            f"{gateway}/predict", json=EXAMPLE_RECORD, headers={"X-API-Key": key}, timeout=10
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    model = response.json()["model"]
    return model["version"], model["run_id"]


def get_inside(service: str, port: int, path: str) -> str:
    """GET `path` on `port` of the (first) container of `service`, from inside it: the predictors'
    ports and every metrics port are published nowhere."""
    url = f"http://127.0.0.1:{port}{path}"
    script = f"import urllib.request as u; print(u.urlopen({url!r}, timeout=5).read().decode())"
    return compose("exec", "-T", service, "python", "-c", script).stdout


def predictor_get(path: str) -> str:
    return get_inside("predictor", defaults.PREDICTOR_PORT, path)


def gateway_metrics() -> str:
    return get_inside("gateway", defaults.GATEWAY_METRICS_PORT, "/metrics")


def predictor_metric(name: str) -> float:
    """A counter of the (first) predictor."""
    text = get_inside("predictor", defaults.PREDICTOR_METRICS_PORT, "/metrics")
    found = re.search(rf"^{name} ([\d.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def compose_ps() -> list[dict]:
    out = compose("ps", "--all", "--format", "json").stdout.strip()
    if out.startswith("["):
        return json.loads(out)
    return [json.loads(line) for line in out.splitlines() if line.strip()]
