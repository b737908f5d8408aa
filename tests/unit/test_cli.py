"""The `housing` command as a person meets it: its version, and one readable line (exit 1) for
what goes wrong, the traceback only when asked for (--debug)."""

from __future__ import annotations

import subprocess
import sys

from housing import __version__


def housing(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "housing.cli", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_version():
    done = housing("--version")
    assert (done.returncode, done.stdout) == (0, f"housing {__version__}\n")


def test_help_names_the_debug_switch_and_its_variable():
    done = housing("--help")
    assert done.returncode == 0
    assert "--debug" in done.stdout and "HOUSING_DEBUG" in done.stdout


def test_a_directory_to_validate_is_one_line(tmp_path):
    done = housing("data", "validate", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path}: Is a directory"], done.stderr


def test_a_binary_file_to_validate_is_one_line(tmp_path):
    binary = tmp_path / "blob.csv"
    binary.write_bytes(bytes(range(256)) * 64)
    done = housing("data", "validate", str(binary))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr


def test_a_directory_as_the_download_destination_is_one_line(tmp_path, raw_csv):
    import os

    env = {**os.environ, "HOUSING_DATA_URL": raw_csv.as_uri()}
    done = housing("data", "fetch", "--dest", str(tmp_path), env=env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback(tmp_path):
    done = housing("--debug", "data", "validate", str(tmp_path))
    assert done.returncode != 0 and "Traceback" in done.stderr
