"""Where a model came from: the data's checksums and the code's commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from housing.defaults import TEST_SPLIT_TAG, TRAIN_SPLIT_TAG
from housing.files import sha256_of


def dvc_md5(data_file: Path) -> str | None:
    """The md5 DVC recorded for `data_file` in its `.dvc` file, if it is tracked."""
    pointer = data_file.with_name(data_file.name + ".dvc")
    if not pointer.is_file():
        return None
    outs = (yaml.safe_load(pointer.read_text()) or {}).get("outs") or [{}]
    return outs[0].get("md5")


def git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def lineage_tags(
    raw: Path, train_csv: Path, test_csv: Path, feedback: Path | None = None
) -> dict[str, str]:
    """The data a run was trained and scored on, and the code's commit; `feedback` when the
    training split holds feedback rows (prepare.feedback): both data sets are named."""
    tags = {
        "data.raw_sha256": sha256_of(raw),
        TRAIN_SPLIT_TAG: sha256_of(train_csv),
        TEST_SPLIT_TAG: sha256_of(test_csv),
        "data.raw_dvc_md5": dvc_md5(raw) or "untracked",
        "data.feedback_sha256": sha256_of(feedback) if feedback else "none",
        "data.feedback_dvc_md5": (dvc_md5(feedback) or "untracked") if feedback else "none",
        "git.commit": git_commit(Path.cwd()) or "none",
    }
    return tags
