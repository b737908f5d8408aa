import hashlib
import http.server
import os
import subprocess
import sys
import threading
import time

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


def test_a_file_over_the_size_cap_is_refused_and_leaves_nothing(source, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(FetchError, match="larger than the limit of 4 bytes"):
        fetch(source.as_uri(), out / "housing.csv", SHA, max_bytes=4)
    assert leftovers(out) == []


class _Dripping(http.server.BaseHTTPRequestHandler):
    """Announces a size, then sends one byte every 0.1 s: each read is quick, the whole is not."""

    announced = 1_000

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(self.announced))
        self.end_headers()
        try:
            for _ in range(self.announced):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass  # the client gave up, as it should

    def log_message(self, *args):
        pass


@pytest.fixture
def dripping_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Dripping)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/housing.csv"
    server.shutdown()
    server.server_close()


def test_a_dripping_server_is_cut_off_at_the_deadline(dripping_server, tmp_path):
    started = time.monotonic()
    with pytest.raises(FetchError, match="took longer than 1 s"):
        fetch(dripping_server, tmp_path / "housing.csv", SHA, timeout=5, deadline_s=1)
    assert time.monotonic() - started < 3
    assert leftovers(tmp_path) == []


def test_an_announced_size_over_the_cap_is_refused_before_reading(dripping_server, tmp_path):
    started = time.monotonic()
    with pytest.raises(FetchError, match="announces 1000 bytes"):
        fetch(dripping_server, tmp_path / "housing.csv", SHA, max_bytes=999)
    assert time.monotonic() - started < 1
    assert leftovers(tmp_path) == []


def test_the_fetched_file_is_readable_by_others_under_the_usual_umask(source, tmp_path):
    """The compose stack's trainer (uid 10001) reads ./data/raw: mkstemp's 0600 kept it out."""
    old = os.umask(0o022)
    try:
        dest = fetch(source.as_uri(), tmp_path / "out" / "housing.csv", SHA)
    finally:
        os.umask(old)
    assert oct(dest.stat().st_mode)[-3:] == "644"


def test_progress_is_told_every_byte_and_the_announced_size(source, tmp_path):
    told: list[tuple[int, int | None]] = []
    fetch(source.as_uri(), tmp_path / "out.csv", SHA, progress=lambda n, t: told.append((n, t)))
    assert sum(n for n, _ in told) == len(CONTENT)
    assert {total for _, total in told} == {len(CONTENT)}  # a file:// answer announces its length
