"""sshd for tests: a stand-in for a host reached over SSH (an EC2 instance, a swarm manager)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.procs import free_port, running


@contextmanager
def local_sshd(work: Path) -> Iterator[dict]:
    """sshd on a loopback port, letting in one throw-away key (as this user); yields how to
    reach it: host, port, key, user, known_hosts."""
    for name in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / name)], check=True
        )
    shutil.copy(work / "client_key.pub", work / "authorized_keys")
    os.chmod(work / "authorized_keys", 0o600)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    port = free_port()
    cmd = [
        "/usr/sbin/sshd",
        "-D",
        "-e",
        "-p",
        str(port),
        "-h",
        str(work / "host_key"),
        "-o",
        "ListenAddress=127.0.0.1",
        "-o",
        f"AuthorizedKeysFile={work}/authorized_keys",
        "-o",
        "PasswordAuthentication=no",
        "-o",
        "PermitRootLogin=prohibit-password",
        "-o",
        "StrictModes=no",
        "-o",
        f"PidFile={work}/sshd.pid",
        "-o",
        "UsePAM=no",
    ]
    # The host's key, known beforehand, as CD's EC2_KNOWN_HOSTS is (deploy_to_ec2.sh checks it).
    host_key = (work / "host_key.pub").read_text().split()[:2]
    (work / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_key)}\n")
    with running(cmd, work / "sshd.log"):
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield {
            "host": "127.0.0.1",
            "port": port,
            "key": work / "client_key",
            "user": os.environ.get("USER") or "root",
            "known_hosts": work / "known_hosts",
        }
