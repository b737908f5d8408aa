"""trainer.workspace.apply_overrides: TRAIN_PARAMS applied to params.yaml, or refused whole."""

from __future__ import annotations

import pytest
import yaml

from trainer.workspace import apply_overrides

PARAMS = {
    "prepare": {"seed": 42, "test_size": 0.2},
    "train": {"learning_rate": 0.05, "max_iter": 600},
}


@pytest.fixture
def params_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(PARAMS, sort_keys=False))
    return path


def test_overrides_are_parsed_as_yaml_scalars_and_written(params_file):
    applied = apply_overrides(params_file, " train.max_iter=50 , train.learning_rate=0.1,")
    assert applied == {"train.max_iter": 50, "train.learning_rate": 0.1}
    written = yaml.safe_load(params_file.read_text())
    assert written["train"] == {"learning_rate": 0.1, "max_iter": 50}
    assert written["prepare"] == PARAMS["prepare"]


def test_no_overrides_leave_the_values_alone(params_file):
    assert apply_overrides(params_file, "") == {}
    assert yaml.safe_load(params_file.read_text()) == PARAMS


@pytest.mark.parametrize(
    "overrides",
    ["train.depth=3", "model.max_iter=3", "max_iter=3", "train.max_iter", "train.max_iter=5,x"],
)
def test_an_unknown_or_malformed_override_is_refused_and_nothing_is_written(params_file, overrides):
    before = params_file.read_text()
    with pytest.raises(ValueError, match="TRAIN_PARAMS"):
        apply_overrides(params_file, overrides)
    assert params_file.read_text() == before
