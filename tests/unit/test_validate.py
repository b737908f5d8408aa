import pandas as pd
import pytest

from housing.contract import CATEGORICAL, CATEGORIES, NUMERIC, TARGET
from housing.data.validate import DataValidationError, read_raw, validate

RAW_COLUMNS = (*NUMERIC, TARGET, CATEGORICAL)  # the order of the published CSV


def synthetic(rows: int = 6) -> pd.DataFrame:
    """A small frame that satisfies the contract, as text like a freshly read CSV."""
    frame = pd.DataFrame(
        {
            "longitude": [-122.0 + i / 10 for i in range(rows)],
            "latitude": [37.0] * rows,
            "housing_median_age": [20.0] * rows,
            "total_rooms": [1000.0 + i for i in range(rows)],
            "total_bedrooms": [200.0] * (rows - 1) + [None],
            "population": [500.0] * rows,
            "households": [180.0] * rows,
            "median_income": [3.0 + i for i in range(rows)],
            "median_house_value": [150000.0 + 1000 * i for i in range(rows)],
            "ocean_proximity": [CATEGORIES[i % 5] for i in range(rows)],
        }
    )
    return frame.astype(object).where(frame.notna(), None).astype(str).replace("None", None)


def test_valid_frame_passes_and_becomes_numeric():
    out = validate(synthetic())
    assert list(out.columns) == list(RAW_COLUMNS)
    assert out["total_rooms"].dtype == "float64"
    assert out["total_bedrooms"].isna().sum() == 1


def test_missing_column_is_named():
    with pytest.raises(DataValidationError, match="missing column.*median_income"):
        validate(synthetic().drop(columns=["median_income"]))


def test_text_in_numeric_column_names_column_and_count():
    frame = synthetic()
    frame.loc[[1, 3], "population"] = "lots"
    with pytest.raises(DataValidationError, match=r"population: 2 row\(s\) are not numbers"):
        validate(frame)


def test_unknown_category_names_column_and_count():
    frame = synthetic()
    frame.loc[0, "ocean_proximity"] = "MOON"
    with pytest.raises(DataValidationError, match=r"ocean_proximity: 1 row\(s\) outside"):
        validate(frame)


def test_out_of_range_and_empty_required_values():
    frame = synthetic()
    frame.loc[2, "households"] = "0"
    frame.loc[4, "median_income"] = None
    with pytest.raises(DataValidationError) as caught:
        validate(frame)
    problems = " | ".join(caught.value.problems)
    assert "households: 1 row(s) are not > 0" in problems
    assert "median_income: 1 row(s) are empty" in problems


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataValidationError, match="empty"):
        read_raw(empty)
    header = tmp_path / "header.csv"
    header.write_text(",".join(RAW_COLUMNS) + "\n")
    with pytest.raises(DataValidationError, match="no rows"):
        read_raw(header)


def test_cli_validate_reports_one_line(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.csv"
    frame = synthetic()
    frame.loc[0, "ocean_proximity"] = "MOON"
    frame.to_csv(bad, index=False)
    result = subprocess.run(
        [sys.executable, "-m", "housing", "data", "validate", str(bad)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "ocean_proximity" in result.stderr
