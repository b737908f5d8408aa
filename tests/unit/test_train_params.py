import subprocess
import sys

import pytest
import yaml

from housing.model.pipeline import TrainParams


@pytest.mark.parametrize(
    ("override", "refusal"),
    [
        ({"max_iter": 0}, "train.max_iter must be an integer ≥ 1, got 0"),
        ({"max_iter": -1}, "train.max_iter must be an integer ≥ 1, got -1"),
        ({"max_iter": "many"}, 'train.max_iter must be an integer ≥ 1, got "many"'),
        ({"max_iter": 2.5}, "train.max_iter must be an integer ≥ 1, got 2.5"),
        ({"max_iter": True}, "train.max_iter must be an integer ≥ 1, got true"),
        ({"learning_rate": 0.0}, "train.learning_rate must be a number > 0, got 0.0"),
        ({"max_leaf_nodes": 1}, "train.max_leaf_nodes must be an integer ≥ 2, got 1"),
        ({"min_samples_leaf": 0}, "train.min_samples_leaf must be an integer ≥ 1, got 0"),
        ({"l2_regularization": -0.5}, "train.l2_regularization must be a number ≥ 0, got -0.5"),
        ({"max_features": 1.5}, "train.max_features must be a number in (0, 1], got 1.5"),
        ({"neighbour_ks": []}, "train.neighbour_ks must be a list of integers ≥ 1, got []"),
        (
            {"neighbour_ks": [8, "x"]},
            'train.neighbour_ks must be a list of integers ≥ 1, got [8, "x"]',
        ),
        ({"cv_folds": 1}, "train.cv_folds must be 0 (none) or an integer ≥ 2, got 1"),
    ],
)
def test_a_parameter_of_the_wrong_kind_or_range_is_refused_by_its_key(override, refusal):
    """max_iter below 1 used to leave the regressor unfitted and save it without an error; a
    word where a number goes was a TypeError from inside the check."""
    with pytest.raises(ValueError) as refused:
        TrainParams.from_dict(override)
    assert str(refused.value) == refusal


def test_the_defaults_and_small_values_are_accepted():
    params = TrainParams.from_dict({"max_iter": 1, "max_leaf_nodes": 2, "learning_rate": 1})
    assert params.max_iter == 1 and params.neighbour_ks == (8, 32)


def test_the_train_stage_refuses_bad_params_before_any_work_in_one_line(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"train": {"max_iter": 0}}))
    out = tmp_path / "model"
    done = subprocess.run(
        [sys.executable, "-m", "housing.cli", "train", "--train-csv", str(tmp_path / "none.csv"),
         "--out-dir", str(out), "--params", str(params)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: ValueError: train.max_iter must be an integer ≥ 1, got 0"
    ]
    assert not out.exists()  # no model saved, unfitted or otherwise
