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
    monitor_url = httpx.URL(services["gateway"]["environment"]["GATEWAY_MONITOR_URL"])
    assert monitor_url.port == defaults.MONITOR_PORT and "ports" not in services["monitor"]
    assert "ports" not in services["gateway"], "only the edge is published"
    edge_ports = {p["target"]: int(_default(p["published"])) for p in services["edge"]["ports"]}
    assert edge_ports == {80: 80, 443: 443}
    (ui_port,) = services["mlflow"]["ports"]
    assert ui_port["target"] == defaults.MLFLOW_PORT
    assert f"ENV MLFLOW_PORT={defaults.MLFLOW_PORT}" in DOCKERFILE


def test_every_image_compose_builds_is_built_pushed_and_deployed():
    """Our images, by the services compose builds: the deploy script, the build-and-push action
    and the deploy test name the same ones."""
    built = {name for name, service in COMPOSE["services"].items() if "build" in service}
    deploy = (ROOT / "deploy/deploy_to_ec2.sh").read_text()
    listed = re.search(r"^SERVICES=\(([^)]*)\)", deploy, re.MULTILINE).group(1).split()
    assert set(listed) == built
    digests = re.search(r"'\^\(\(([a-z|]+)\)=sha256", deploy).group(1).split("|")
    assert set(digests) == built
    action = (ROOT / ".github/actions/build-push/action.yml").read_text()
    for line in re.findall(r"(?:docker compose (?:build|push)|for service in) ([a-z ]+)", action):
        assert set(line.split()) - {"do"} == built, line
    from tests.support.images import OUR_IMAGES

    assert set(OUR_IMAGES) == built


def test_compose_leaves_the_code_defaults_to_the_code():
    """Settings with a default in code are passed through unset, never given a second default."""
    for name, service in COMPOSE["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if variable.startswith(("HOUSING_", "PREDICTOR_", "GATEWAY_", "TRAINER_", "MONITOR_")):
                assert value is None or "${" not in str(value) or ":?" in str(value), (
                    f"{name}: {variable}={value} repeats a default that lives in the code"
                )


def _caddyfile_defaults() -> dict[str, str]:
    """`{$NAME:default}` placeholders of the edge's Caddyfile."""
    text = (ROOT / "services/edge/Caddyfile").read_text()
    found = re.findall(r"\{\$(\w+):([^}]*)\}", text)
    values = {}
    for name, value in found:
        assert values.setdefault(name, value) == value, f"two defaults for {name}"
    return values


def test_the_edge_uses_the_gateways_limits_and_address():
    """The Caddyfile spells the gateway's settings by their own names, with the code's defaults,
    and compose passes them through unset to both."""
    from housing.web.server_settings import ServerSettings

    server = ServerSettings()
    caddy = _caddyfile_defaults()
    assert int(caddy["GATEWAY_MAX_BODY_BYTES"]) == server.max_body_bytes
    assert int(caddy["GATEWAY_MAX_HEAD_BYTES"]) == server.max_head_bytes
    assert float(caddy["GATEWAY_HEAD_TIMEOUT_S"]) == server.head_timeout_s
    assert float(caddy["GATEWAY_BODY_TIMEOUT_S"]) == server.body_timeout_s
    assert int(caddy["GATEWAY_PORT"]) == defaults.GATEWAY_PORT
    assert caddy["GATEWAY_NAME"] == "gateway" and "gateway" in COMPOSE["services"]
    limits = [n for n in caddy if n.startswith("GATEWAY_MAX") or n.endswith("TIMEOUT_S")]
    for service in ("edge", "gateway"):
        env = COMPOSE["services"][service]["environment"]
        for name in limits:
            assert name in env and env[name] is None, (service, name)


class _ComposeLoader(yaml.SafeLoader):
    """YAML with Compose's merge tags (`!override`, `!reset`) read as plain values."""


def _untagged(loader, _suffix, node):
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return loader.construct_scalar(node)


_ComposeLoader.add_multi_constructor("!", _untagged)


def test_env_example_lists_every_variable_the_compose_files_read():
    documented = (ROOT / ".env.example").read_text()
    for path in ("compose.yaml", "deploy/stack.yaml", "deploy/compose.aws.yaml"):
        text = (ROOT / path).read_text()
        read = set(re.findall(r"\$\{(\w+)", text))
        passed = {
            name
            for service in yaml.load(text, _ComposeLoader)["services"].values()  # noqa: S506
            if isinstance(service, dict)  # not one that an override removes (`!reset`)
            for name, value in (service.get("environment") or {}).items()
            if value is None
        }
        missing = sorted(n for n in read | passed if not re.search(rf"\b{n}\b", documented))
        assert not missing, f"{path} reads {missing}; .env.example does not list them"


def test_one_path_for_the_edges_root_certificate():
    """The tests, the swarm deploy and the compose deploy read Caddy's root from one place."""
    from tests.support.edge import EDGE_ROOT_CERT

    assert f'EDGE_ROOT_CERT = "{EDGE_ROOT_CERT}"' in (ROOT / "deploy/swarm.py").read_text()
    assert f"cat {EDGE_ROOT_CERT}" in (ROOT / "deploy/deploy_to_ec2.sh").read_text()
