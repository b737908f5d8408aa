import hashlib
import subprocess
import sys

import pytest

from housing.data.fetch import FetchError, fetch
from tests.support.procs import free_port

CONTENT = b"a,b\n1,2\n"
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "src.csv"
    path.write_bytes(CONTENT)
    return path


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_fetch_file_url_and_plain_path(source, tmp_path):
    for i, url in enumerate([source.as_uri(), str(source)]):
        dest = tmp_path / f"out{i}" / "housing.csv"
        fetch(url, dest, SHA)
        assert dest.read_bytes() == CONTENT


def test_wrong_checksum_leaves_nothing(source, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(FetchError, match="checksum mismatch"):
        fetch(source.as_uri(), out / "housing.csv", "0" * 64)
    assert leftovers(out) == []


def test_truncated_file_is_refused(source, tmp_path):
    source.write_bytes(CONTENT[:-3])
    out = tmp_path / "out"
    with pytest.raises(FetchError, match="checksum mismatch"):
        fetch(source.as_uri(), out / "housing.csv", SHA)
    assert leftovers(out) == []


def test_no_network_is_one_clear_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/housing.csv"  # nothing listens there
    with pytest.raises(FetchError, match="cannot download"):
        fetch(url, tmp_path / "housing.csv", SHA, timeout=3)
    assert leftovers(tmp_path) == []


def test_existing_good_file_is_kept(source, tmp_path):
    dest = tmp_path / "housing.csv"
    dest.write_bytes(CONTENT)
    fetch("file:///does/not/exist", dest, SHA)
    assert dest.read_bytes() == CONTENT


def test_cli_fails_with_one_line(tmp_path, source):
    env = {"HOUSING_DATA_URL": source.as_uri(), "HOUSING_DATA_SHA256": "f" * 64, "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "housing", "data", "fetch", "--dest", str(tmp_path / "h.csv")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: checksum mismatch"), result.stderr
    assert not (tmp_path / "h.csv").exists()
