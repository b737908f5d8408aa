"""The trainer's DVC workspace: the image's pipeline files, with this run's parameter overrides."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

PIPELINE_FILES = (
    "dvc.yaml",
    "params.yaml",
    ".dvcignore",
    ".dvc/config",
    "data/raw/housing.csv.dvc",
    "data/raw/.gitignore",
    "data/feedback/README.md",
    "data/feedback/.gitignore",
)


def sync(source: Path, workspace: Path) -> None:
    """Copy the pipeline's definition and code in; keep DVC's cache, lock and outputs."""
    for name in PIPELINE_FILES:
        target = workspace / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target)
    shutil.rmtree(workspace / "src", ignore_errors=True)
    shutil.copytree(
        source / "src", workspace / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    # No git in the image: DVC runs without an SCM.
    (workspace / ".dvc/config.local").write_text("[core]\n    no_scm = true\n")


def apply_overrides(params_file: Path, overrides: str) -> dict[str, object]:
    """Apply "section.key=value,..." to params.yaml; values are parsed as YAML scalars."""
    params = yaml.safe_load(params_file.read_text())
    applied: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in overrides.split(","))):
        key, sep, raw = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or section not in params or name not in params[section]:
            raise ValueError(f"TRAIN_PARAMS: {item!r} is not section.key=value for a known key")
        params[section][name] = applied[key.strip()] = yaml.safe_load(raw)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    return applied
