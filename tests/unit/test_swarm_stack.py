"""deploy/swarm.py render: compose.yaml with deploy/stack.yaml on top, in the format `docker stack
deploy` reads (checked by the Docker CLI's own loader, `docker stack config`)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("swarm", ROOT / "deploy/swarm.py")
swarm = importlib.util.module_from_spec(spec)
sys.modules["swarm"] = swarm
spec.loader.exec_module(swarm)

pytestmark = pytest.mark.skipif(
    not shutil.which("docker"), reason="needs the Docker CLI with Compose"
)


@pytest.fixture
def secrets(tmp_path, monkeypatch):
    folder = tmp_path / "secrets"
    folder.mkdir()
    for name in (
        "postgres_password",
        "s3_access_key",
        "s3_secret_key",
        "gateway_api_keys",
        "mlflow_admin_password",
        "mlflow_trainer_password",
        "mlflow_predictor_password",
        "mlflow_monitor_password",
        "predictions_db_password",
    ):
        (folder / name).write_text(f"{name}-value-0123456789")  # fmt: skip
    monkeypatch.setenv("SECRETS_DIR", str(folder))
    return folder


def render(*argv: str) -> dict:
    args = swarm.parse(["render", "--stack", "housing", *argv])
    return swarm.render(args)


def test_the_rendered_stack_is_what_docker_stack_deploy_reads(secrets, tmp_path):
    stack = render()
    path = tmp_path / "stack.yml"
    path.write_text(yaml.safe_dump(stack))
    checked = subprocess.run(
        ["docker", "stack", "config", "-c", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    services = stack["services"]
    assert set(services) == {
        "postgres",
        "predictions-db",
        "s3",
        "mlflow",
        "trainer",
        "predictor",
        "gateway",
        "monitor",
        "prometheus",
        "edge",
    }
    for name, service in services.items():
        assert not set(service) & set(swarm.DROPPED), name
        assert all("host_ip" not in port for port in service.get("ports", [])), name
        assert service["deploy"]["resources"]["limits"], name
    assert services["trainer"]["deploy"]["mode"] == "replicated-job"
    data_node = ["node.labels.housing.data == true"]
    assert services["predictions-db"]["deploy"]["placement"]["constraints"] == data_node
    assert services["monitor"]["deploy"]["placement"]["constraints"] == data_node
    assert services["prometheus"]["deploy"]["placement"]["constraints"] == data_node
    assert "ports" not in services["prometheus"] and "ports" not in services["mlflow"]
    assert services["edge"]["deploy"]["mode"] == "global"
    assert {p["mode"] for p in services["edge"]["ports"]} == {"host"}
    for name in ("predictor", "gateway"):
        update = services[name]["deploy"]["update_config"]
        # stop-first keeps the replicas spread over the serve nodes (deploy/stack.yaml)
        assert update["order"] == "stop-first" and update["failure_action"] == "rollback"
        assert services[name]["deploy"]["rollback_config"]["order"] == "stop-first"
        # the next old task stops only once a replacement has outlived the monitor window
        assert update["delay"] == update["monitor"]
        assert services[name]["deploy"]["endpoint_mode"] == "dnsrr"
    assert {"type": "tmpfs", "target": "/tmp"} in services["gateway"]["volumes"]  # noqa: S108
    assert stack["networks"]["database"]["driver_opts"] == {"encrypted": "true"}


def test_a_changed_secret_is_a_new_swarm_secret(secrets):
    before = render()["secrets"]["gateway_api_keys"]["name"]
    assert before.startswith("housing_gateway_api_keys_")
    assert render()["secrets"]["gateway_api_keys"]["name"] == before  # unchanged: the same
    (secrets / "gateway_api_keys").write_text("another-key-0123456789abcdef")
    assert render()["secrets"]["gateway_api_keys"]["name"] != before


def test_replicas_and_images_come_from_the_environment(secrets, monkeypatch):
    monkeypatch.setenv("PREDICTOR_REPLICAS", "5")
    monkeypatch.setenv("REGISTRY", "registry.example.com/housing")
    monkeypatch.setenv("IMAGE_TAG", "abc123")
    services = render()["services"]
    assert services["predictor"]["deploy"]["replicas"] == 5
    assert services["predictor"]["image"] == "registry.example.com/housing/predictor:abc123"


def test_the_engines_times_are_read_to_the_microsecond():
    started = swarm.engine_time("2026-11-28T03:36:06.958436158Z")
    assert started.isoformat() == "2026-11-28T03:36:06.958436+00:00"
    assert swarm.engine_time("2026-11-28T03:36:07Z") > started
    with pytest.raises(swarm.DeployFailed):
        swarm.engine_time("yesterday")


def test_every_overlay_of_the_stacks_own_traffic_is_encrypted(secrets):
    """Before, front, serving, registry and predictions crossed nodes in clear (API keys, MLflow's
    credentials, records); only the internet's (edge) and the download's (egress) are plain."""
    networks = render()["networks"]
    plain = {
        name for name, spec in networks.items() if "encrypted" not in spec.get("driver_opts", {})
    }
    assert plain == {"edge", "egress"}
    for name in ("front", "serving", "registry", "predictions", "database", "objects"):
        assert networks[name]["driver_opts"] == {"encrypted": "true"}, name


def test_plaintext_networks_are_only_those_named_and_said(secrets, monkeypatch, capsys):
    monkeypatch.setenv("SWARM_PLAINTEXT_NETWORKS", "serving, registry")
    networks = render()["networks"]
    assert "driver_opts" not in networks["serving"] and "driver_opts" not in networks["registry"]
    assert networks["front"]["driver_opts"] == {"encrypted": "true"}
    assert "not encrypted: registry, serving" in capsys.readouterr().err


def test_mlflows_port_is_published_on_no_node(secrets):
    """A swarm binds a published port on every address of its node: the UI is reached through
    SSH (deploy/mlflow_ui.sh, on the attachable registry network)."""
    stack = render()
    assert not stack["services"]["mlflow"].get("ports")
    assert stack["networks"]["registry"]["attachable"] is True
    published = {name for name, s in stack["services"].items() if s.get("ports")}
    assert published == {"edge"}


def test_on_aws_only_mlflow_and_the_trainer_join_the_node_local_cloud_bridge(secrets, tmp_path):
    env = tmp_path / "aws.env"
    env.write_text("MLFLOW_BUCKET=b-123\nAWS_REGION=eu-west-1\n")
    stack = render("-f", str(ROOT / "deploy/compose.aws.yaml"), "--env-file", str(env))
    assert stack["networks"]["cloud"] == {"external": True, "name": "housing-cloud"}
    assert swarm.local_bridges(stack) == ["housing-cloud"]
    joined = {name for name, s in stack["services"].items() if "cloud" in s.get("networks", {})}
    assert joined == {"mlflow", "trainer"}
    path = tmp_path / "stack.yml"
    path.write_text(yaml.safe_dump(stack))
    checked = subprocess.run(
        ["docker", "stack", "config", "-c", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
