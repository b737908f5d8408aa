import pytest

from housing.model.pipeline import TrainParams


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"max_iter": 0}, "max_iter=0"),
        ({"max_iter": -1}, "max_iter=-1"),
        ({"learning_rate": 0.0}, "learning_rate=0.0"),
        ({"max_leaf_nodes": 1}, "max_leaf_nodes=1"),
        ({"min_samples_leaf": 0}, "min_samples_leaf=0"),
        ({"l2_regularization": -0.5}, "l2_regularization=-0.5"),
    ],
)
def test_a_parameter_out_of_range_is_refused_by_name(override, named):
    """max_iter below 1 used to leave the regressor unfitted and save it without an error."""
    with pytest.raises(ValueError, match=f"out of range: {named}"):
        TrainParams.from_dict(override)


def test_the_defaults_and_small_values_are_accepted():
    assert TrainParams.from_dict({"max_iter": 1, "max_leaf_nodes": 2}).max_iter == 1
