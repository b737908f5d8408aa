"""The CD workflow deploys only what was pushed to this repository."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_only_a_push_to_this_repository_builds_and_deploys():
    cd = yaml.safe_load((ROOT / ".github/workflows/cd.yml").read_text())
    condition = " ".join(cd["jobs"]["build-push"]["if"].split())
    # A fork's pull request whose head branch is called main passes the `branches` filter.
    assert "github.event.workflow_run.event == 'push'" in condition
    assert "github.event.workflow_run.head_repository.full_name == github.repository" in condition
    assert re.search(r"conclusion == 'success' && .*event == 'push' && .*full_name", condition)
    assert cd["jobs"]["deploy"]["needs"] == "build-push"
