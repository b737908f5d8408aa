"""The prepare stage's feedback option, before any work: a bad flag or a missing file is one line
that says what to do; nothing is written."""

from __future__ import annotations

import pytest
import yaml

from housing.stages import prepare
from tests.unit.test_cli import housing


def params(tmp_path, feedback) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(
        yaml.safe_dump({"prepare": {"test_size": 0.2, "seed": 42, "feedback": feedback}})
    )
    return str(path)


def test_a_flag_that_is_not_a_boolean_is_named(tmp_path, raw_csv):
    with pytest.raises(
        ValueError, match='prepare.feedback must be true or false, got "yes please"'
    ):
        prepare.run(raw_csv, tmp_path / "out", params(tmp_path, "yes please"), tmp_path / "f.csv")
    assert not (tmp_path / "out").exists()


def test_a_missing_feedback_file_says_how_to_make_it(tmp_path, raw_csv):
    missing = tmp_path / "feedback.csv"
    done = housing(
        "prepare", "--raw", str(raw_csv), "--out-dir", str(tmp_path / "out"),
        "--params", params(tmp_path, True), "--feedback", str(missing),
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: FileNotFoundError: prepare.feedback is true but {missing} is missing: "
        f"write it with `housing feedback export -o {missing}`, then `dvc add {missing}`"
    ]
    assert not (tmp_path / "out" / "train.csv").exists()
