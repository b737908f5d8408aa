"""The stack on a Docker swarm: its stack file, and a health-gated deploy with rollback.

    python deploy/swarm.py render --stack housing [--env-file .env] > stack.yml
    python deploy/swarm.py deploy --docker-host ssh://ec2-user@MANAGER --stack housing \\
        --env-file production.env [--url https://api.example.com] [--timeout 900] [--dry-run]

REGISTRY and IMAGE_TAG (and every other setting) come from the environment or the env files, as
for compose.

render: compose.yaml with deploy/stack.yaml on top, as `docker stack deploy` takes it. Compose
merges the files (it knows the whole Compose Specification: `!override`, interpolation of every
field); `docker stack deploy` still reads the older version-3 format, whose schema refuses some of
what Compose writes. The rendering changes nothing else:
- what a swarm does not run is dropped: `build`, `depends_on`, `pull_policy`, `restart` (swarm
  restarts by `deploy.restart_policy`), `host_ip` (host-mode ports bind every address);
- `tmpfs: [path]` becomes a tmpfs mount (swarm services ignore the version-3 key);
- numbers Compose writes where version 3 wants strings (cpus, memory), and back (ports);
- secrets and configs are immutable in a swarm: each is named after a digest of its content, so
  that a changed secret or Caddyfile is a new object the services move to in a rolling update,
  and an unchanged one is left alone;
- a bridge that compose names (compose.aws.yaml's `cloud`, bridge `housing-cloud`) becomes a
  swarm-scoped bridge of that name, local to each node (`--config-from` a config-only network,
  made by the deploy when missing): the one way out of a node that housing-imds-guard lets reach
  the instance role, joined only by mlflow and the trainer;
- SWARM_PLAINTEXT_NETWORKS (comma-separated names, default none) drops the encryption of those
  overlays, for a kernel without IPsec's AES-GCM (deploy/stack.yaml encrypts them all).

deploy: the rendered file goes to the manager through the Docker CLI (`--with-registry-auth`: the
nodes pull with this machine's registry login). On a swarm without the stack, it comes up first
without predictors and gateways, the trainer job trains the first champion, then they scale to
their replica counts (a predictor is healthy only once it serves a model). Later deploys are
rolling updates, one task at a time, each stopped before its replacement starts, which keeps
the replicas spread over the nodes (deploy/stack.yaml). A deploy succeeds when
every service runs its replicas (the trainer job has completed) and a real prediction answers
through the edge over HTTPS. When swarm rolls an update back by itself, when the stack does not
converge in time, or when the prediction fails, each service that this deploy changed gets
`docker service rollback`, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import yaml

from housing.contract import EXAMPLE_RECORD

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "compose.yaml", ROOT / "deploy/stack.yaml"]
DROPPED = ("build", "depends_on", "pull_policy", "restart")
BRIDGE_NAME = "com.docker.network.bridge.name"
EDGE_ROOT_CERT = "/data/caddy/pki/authorities/local/root.crt"
# A new stack: no predictor or gateway until the trainer job has made a champion.
BOOTSTRAP = {"PREDICTOR_REPLICAS": "0", "GATEWAY_REPLICAS": "0"}


def merged(files: list[Path], env_files: list[Path], env: dict[str, str] | None = None) -> dict:
    argv = ["docker", "compose", "--project-directory", str(ROOT)]
    for env_file in env_files:
        argv += ["--env-file", str(env_file)]
    for file in files:
        argv += ["-f", str(file)]
    result = subprocess.run(
        [*argv, "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},  # the shell's variables win over the env files'
    )
    if result.returncode != 0:
        raise DeployFailed(f"docker compose config: {result.stderr.strip()}")
    return json.loads(result.stdout)


def _service(service: dict) -> dict:
    service = {k: v for k, v in service.items() if v is not None and k not in DROPPED}
    limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
    for key in ("cpus", "memory"):
        if key in limits:
            limits[key] = str(limits[key])
    for port in service.get("ports", []):
        port.pop("host_ip", None)
        if "published" in port:
            port["published"] = int(port["published"])
    if "environment" in service:
        service["environment"] = {k: v for k, v in service["environment"].items() if v is not None}
    for path in service.pop("tmpfs", []):
        service.setdefault("volumes", []).append({"type": "tmpfs", "target": path})
    return service


def _digest_named(stack: str, kind: dict) -> dict:
    named = {}
    for key, spec in kind.items():
        spec = dict(spec)
        source = Path(spec["file"])
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
        spec["name"] = f"{stack}_{key}_{digest}"
        named[key] = spec
    return named


def stack_file(config: dict, stack: str, plaintext: frozenset[str] = frozenset()) -> dict:
    out = {"version": "3.9"}
    out["services"] = {name: _service(s) for name, s in config["services"].items()}
    for kind in ("networks", "volumes"):
        # Unnamed, so that the stack puts them in its own namespace (<stack>_<name>).
        out[kind] = {
            k: {f: v for f, v in (spec or {}).items() if f != "name"}
            for k, spec in config.get(kind, {}).items()
        }
    for name, spec in out["networks"].items():
        options = spec.pop("driver_opts", {})
        if BRIDGE_NAME in options:  # a node-local bridge of that name (local_bridges)
            out["networks"][name] = {"external": True, "name": options[BRIDGE_NAME]}
            continue
        kept = {k: v for k, v in options.items() if not k.startswith("com.docker.network.bridge.")}
        if name in plaintext:
            kept.pop("encrypted", None)
        if kept:
            spec["driver_opts"] = kept
    for kind in ("secrets", "configs"):
        if config.get(kind):
            out[kind] = _digest_named(stack, config[kind])
    return out


class DeployFailed(Exception):
    pass


class Swarm:
    """The Docker CLI, pointed at the swarm's manager."""

    def __init__(self, host: str | None):
        self.host = host

    def run(self, *args: str, check: bool = True, timeout: float = 600, **kw):
        argv = ["docker", *(["-H", self.host] if self.host else []), *args]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
        if check and result.returncode != 0:
            raise DeployFailed(f"{' '.join(args[:3])}: {result.stderr.strip()[-2000:]}")
        return result

    def services(self, stack: str) -> dict[str, dict]:
        out = self.run(
            "service", "ls", "--filter", f"label=com.docker.stack.namespace={stack}",
            "--format", "{{json .}}",
        ).stdout  # fmt: skip
        listed = [json.loads(line) for line in out.splitlines() if line.strip()]
        return {service["Name"]: service for service in listed}

    def inspect(self, names: list[str]) -> dict[str, dict]:
        if not names:
            return {}
        found = json.loads(self.run("service", "inspect", *names).stdout)
        return {s["Spec"]["Name"]: s for s in found}

    def stack(self, stack: str) -> dict[str, dict]:
        """Every service of the stack, inspected."""
        return self.inspect(sorted(self.services(stack)))


def _counts(replicas: str) -> tuple[int, int, int | None]:
    """`docker service ls`'s REPLICAS: "2/2", or for a job "0/1 (1/1 completed)"."""
    running, desired = map(int, re.match(r"(\d+)/(\d+)", replicas).groups())
    done = re.search(r"\((\d+)/(\d+) completed\)", replicas)
    return running, desired, int(done.group(1)) if done else None


def engine_time(text: str) -> datetime:
    """The engine's RFC 3339 times (nanoseconds, Z) as datetimes."""
    found = re.match(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text.strip())
    if not found:
        raise DeployFailed(f"unreadable time from the engine: {text!r}")
    whole, fraction, zone = found.groups()
    fraction = (fraction or ".0")[:7]
    return datetime.fromisoformat(f"{whole}{fraction}{'+00:00' if zone == 'Z' else zone}")


def pending(swarm: Swarm, stack: str, since: datetime, rolling_back: bool = False) -> list[str]:
    """What still keeps the stack from having converged (empty: it has); DeployFailed when swarm
    rolled back or paused an update that began `since` (the engine's clock; an older update's
    status says nothing of this deploy). While `rolling_back`, a completed rollback is what is
    waited for."""
    listed = swarm.services(stack)
    waiting = []
    for name, service in swarm.inspect(sorted(listed)).items():
        status = service.get("UpdateStatus") or {}
        mode = service["Spec"]["Mode"]
        # A job's update or rollback is a new run, never "completed": its runs are what count.
        job = mode.get("ReplicatedJob")
        recent = not job and "StartedAt" in status and engine_time(status["StartedAt"]) >= since
        state = status.get("State", "") if recent else ""
        failed = ("paused", "rollback_paused") + (() if rolling_back else ("rollback_completed",))
        if state in failed:
            message = service["UpdateStatus"].get("Message", "")
            raise DeployFailed(f"{name}: update {state} ({message})")
        if state in ("updating", "rollback_started"):
            waiting.append(f"{name} {state}")
            continue
        running, desired, completed = _counts(listed[name]["Replicas"])
        if job is not None:
            total = job.get("TotalCompletions", 1)
            if (completed or 0) < total:
                waiting.append(f"{name} job {completed or 0}/{total} completed")
        elif running < desired or desired == 0 and "Global" in mode:
            waiting.append(f"{name} {running}/{desired}")
    return waiting


def wait_converged(
    swarm: Swarm, stack: str, timeout_s: float, since: datetime, rolling_back: bool = False
) -> None:
    deadline, last = time.monotonic() + timeout_s, None
    while True:
        waiting = pending(swarm, stack, since, rolling_back)
        if not waiting:
            return
        if waiting != last:
            print(f"swarm: waiting for {', '.join(waiting)}", flush=True)
            last = waiting
        if time.monotonic() > deadline:
            raise DeployFailed(f"not converged after {timeout_s:.0f} s: {', '.join(waiting)}")
        time.sleep(2)


def edge_root(swarm: Swarm, stack: str) -> str | None:
    """The root of the edge's internal CA, when the edge runs on the manager (else None)."""
    ids = swarm.run(
        "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={stack}_edge", check=False
    ).stdout.split()
    for container in ids:
        found = swarm.run("exec", container, "cat", EDGE_ROOT_CERT, check=False)
        if found.returncode == 0 and "BEGIN CERTIFICATE" in found.stdout:
            return found.stdout
    return None


def check_prediction(url: str, key: str, root: str | None, within_s: float = 30) -> dict:
    """One prediction through the edge, its certificate verified against the system's roots and,
    when given, the edge's own internal root. A 503 is retried for `within_s`: a gateway learns
    at its next probe that a predictor just started is ready."""
    trust = ssl.create_default_context()
    if root:
        trust.load_verify_locations(cadata=root)
    deadline = time.monotonic() + within_s
    while True:
        try:
            response = httpx.post(
                f"{url}/predict",
                json=EXAMPLE_RECORD,
                headers={"X-API-Key": key},
                timeout=10,
                verify=trust,
            )
        except httpx.HTTPError as exc:
            raise DeployFailed(f"prediction through {url}: {exc}") from exc
        if response.status_code == 200:
            return response.json()
        if response.status_code != 503 or time.monotonic() > deadline:
            raise DeployFailed(f"prediction through {url}: {response.status_code} {response.text}")
        time.sleep(1)


def stack_deploy(swarm: Swarm, stack: str, rendered: dict) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        yaml.safe_dump(rendered, handle, sort_keys=False)
    try:
        swarm.run(
            "stack", "deploy", "--with-registry-auth", "--detach=true", "-c", handle.name, stack
        )
    finally:
        os.unlink(handle.name)


def roll_back(swarm: Swarm, stack: str, before: dict[str, dict]) -> list[str]:
    """`docker service rollback` for each service whose spec this deploy changed (and that swarm
    did not already put back); returns their names."""
    now = swarm.stack(stack)
    rolled = []
    for name, service in now.items():
        changed = service["Spec"] != before.get(name)
        state = (service.get("UpdateStatus") or {}).get("State", "")
        if name in before and changed and state != "rollback_completed":
            if "PreviousSpec" in service:
                swarm.run("service", "rollback", "--detach", name, check=False)
                rolled.append(name)
    return rolled


# How often nodes report to the manager. A node is declared down after a few periods missed, and
# only then are its tasks started elsewhere: at swarm's default (5 s) that detection was most of
# the time a killed worker's replicas took to come back in swarm-test (full count within 30 s is
# the target); shorter still risks a busy node being taken for dead.
HEARTBEAT = "3s"


def label_nodes(swarm: Swarm, manager_id: str) -> list[str]:
    """Nodes without a role get one (deploy/stack.yaml places by these labels): a swarm without a
    data node makes this manager the data and edge node; a worker without any housing.* label
    serves; a swarm of one node serves on it too. Labels a person set are left alone."""
    listed = swarm.run("node", "ls", "-q").stdout.split()
    nodes = json.loads(swarm.run("node", "inspect", *listed).stdout)
    labels = {n["ID"]: dict(n["Spec"].get("Labels") or {}) for n in nodes}
    wanted: dict[str, list[str]] = {}
    if not any("housing.data" in found for found in labels.values()):
        wanted[manager_id] = ["housing.data=true", "housing.edge=true"]
    for node in nodes:
        mine = labels[node["ID"]]
        if node["Spec"]["Role"] == "worker" and not any(k.startswith("housing.") for k in mine):
            wanted.setdefault(node["ID"], []).append("housing.serve=true")
    if len(nodes) == 1 and "housing.serve" not in labels[manager_id]:
        wanted.setdefault(manager_id, []).append("housing.serve=true")
    done = []
    for node_id, adding in wanted.items():
        flags = [arg for label in adding for arg in ("--label-add", label)]
        swarm.run("node", "update", *flags, node_id)
        name = next(n["Description"]["Hostname"] for n in nodes if n["ID"] == node_id)
        done.append(f"{name}: {', '.join(adding)}")
    return done


def local_bridges(rendered: dict) -> list[str]:
    """The node-local bridges the stack joins (external networks that stack_file made)."""
    return sorted(spec["name"] for spec in rendered["networks"].values() if spec.get("external"))


def ensure_local_bridge(swarm: Swarm, name: str) -> None:
    """The swarm-scoped bridge `name`, from a config-only network of the same bridge name on
    this node (the data node; cloud-init makes the config on every node it provisions)."""
    if swarm.run("network", "inspect", name, check=False).returncode == 0:
        return
    config = f"{name}-config"
    if swarm.run("network", "inspect", config, check=False).returncode != 0:
        swarm.run("network", "create", "--config-only", "-o", f"{BRIDGE_NAME}={name}", config)
    swarm.run(
        "network", "create", "-d", "bridge", "--scope", "swarm", "--config-from", config, name
    )
    print(f"swarm: made the node-local bridge {name}", flush=True)


def plaintext_networks(env_files: list[Path]) -> frozenset[str]:
    names = frozenset(
        n.strip() for n in setting("SWARM_PLAINTEXT_NETWORKS", env_files).split(",") if n.strip()
    )
    if names:
        print(f"swarm: WARNING: not encrypted: {', '.join(sorted(names))}", file=sys.stderr)
    return names


def render(args, env: dict[str, str] | None = None) -> dict:
    config = merged(FILES + args.file, args.env_file, env)
    return stack_file(config, args.stack, plaintext_networks(args.env_file))


def _deploy(args, env: dict[str, str]) -> int:
    swarm = Swarm(args.docker_host)
    rendered = render(args, env)
    api_key = setting("GATEWAY_API_KEYS", args.env_file).split(",")[0].strip()
    if args.dry_run:
        print(f"[dry-run] render {len(rendered['services'])} services for stack {args.stack}")
        for name, service in rendered["services"].items():
            print(f"[dry-run]   {name}: {service.get('image')}")
        print(f"[dry-run] docker -H {args.docker_host} stack deploy --with-registry-auth")
        print("[dry-run] label the nodes that have no role yet (data+edge: this manager)")
        print(f"[dry-run] docker swarm update --dispatcher-heartbeat {HEARTBEAT}")
        print("[dry-run] wait for convergence; on a new swarm, train first, then scale up")
        print(f"[dry-run] POST {args.url}/predict; on failure, docker service rollback")
        return 0
    info = json.loads(swarm.run("info", "--format", "{{json .Swarm}}").stdout)
    if not info.get("ControlAvailable"):
        raise DeployFailed(f"{args.docker_host or 'this engine'} is not a swarm manager")
    for labelled in label_nodes(swarm, info["NodeID"]):
        print(f"swarm: labelled {labelled}")
    swarm.run("swarm", "update", "--dispatcher-heartbeat", HEARTBEAT)
    # Each service's spec before this deploy: what it changed, and what to put back.
    before = {name: service["Spec"] for name, service in swarm.stack(args.stack).items()}
    for bridge in local_bridges(rendered):
        ensure_local_bridge(swarm, bridge)
    since = engine_time(swarm.run("info", "--format", "{{.SystemTime}}").stdout)
    try:
        if not before:
            print("swarm: a new stack: the first champion is trained before serving")
            stack_deploy(swarm, args.stack, render(args, {**env, **BOOTSTRAP}))
            wait_converged(swarm, args.stack, args.timeout, since)
        stack_deploy(swarm, args.stack, rendered)
        wait_converged(swarm, args.stack, args.timeout, since)
        answer = check_prediction(args.url, api_key, edge_root(swarm, args.stack))
    except (DeployFailed, subprocess.TimeoutExpired) as exc:
        print(f"swarm: FAILED: {exc}", file=sys.stderr)
        rolled = roll_back(swarm, args.stack, before) if before else []
        if rolled:
            print(f"swarm: rolled back {', '.join(rolled)}", file=sys.stderr)
            try:
                wait_converged(swarm, args.stack, args.timeout, since, rolling_back=True)
            except DeployFailed as again:
                print(f"swarm: the rollback did not converge: {again}", file=sys.stderr)
        return 1
    print(f"swarm: {args.stack} converged; model {answer['model']['version']} answers")
    return 0


def deploy(args) -> int:
    """With the env files' secrets as files (scripts/secret-files.sh), for the stack to read."""
    if not args.env_file or "SECRETS_DIR" in os.environ:
        return _deploy(args, {})
    with tempfile.TemporaryDirectory() as work:
        merged_env = Path(work) / "env"
        merged_env.write_text("\n".join(f.read_text() for f in args.env_file) + "\n")
        secrets = Path(work) / "secrets"
        written = subprocess.run(
            [str(ROOT / "scripts/secret-files.sh"), str(merged_env), str(secrets)],
            capture_output=True,
            text=True,
            check=False,
        )
        if written.returncode != 0:
            raise DeployFailed(written.stderr.strip())
        return _deploy(args, {"SECRETS_DIR": str(secrets)})


def setting(name: str, env_files: list[Path], default: str = "") -> str:
    """A setting as compose reads it: the environment first, then the last env file naming it."""
    if name in os.environ:
        return os.environ[name]
    value = default
    for env_file in env_files:
        for line in env_file.read_text().splitlines():
            if line.startswith(f"{name}="):
                value = line.partition("=")[2].strip()
    return value


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for command in ("render", "deploy"):
        s = sub.add_parser(command)
        s.add_argument("--stack", default="housing", help="the stack's name")
        s.add_argument("--env-file", action="append", type=Path, default=[])
        s.add_argument("-f", "--file", action="append", type=Path, default=[], help="overrides")
    d = sub.choices["deploy"]
    d.add_argument("--docker-host", help="the manager's engine (ssh://user@host); else DOCKER_HOST")
    d.add_argument("--url", help="the edge's address (default: https://$SITE_ADDRESS)")
    d.add_argument("--timeout", type=float, default=900, help="seconds to converge")
    d.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    for path in args.env_file + args.file:
        if not path.is_file():
            p.error(f"{path} not found")
    if args.command == "deploy":
        site = setting("SITE_ADDRESS", args.env_file, "localhost")
        args.url = (args.url or f"https://{site}").rstrip("/")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        if args.command == "render":
            yaml.safe_dump(render(args), sys.stdout, sort_keys=False)
            return 0
        return deploy(args)
    except DeployFailed as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
