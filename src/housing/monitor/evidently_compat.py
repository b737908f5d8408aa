"""Evidently 0.7.23 (the newest on the index) on pandas 3: import Evidently from here.

Evidently's legacy test suite imports `pandas.core.dtypes.common.infer_dtype_from_object`, which
pandas 3 removed, so `import evidently` fails. The monitor never runs that legacy test (it uses
the Report API); the name is put back with pandas 2's meaning so that the import succeeds. The
drift statistics themselves run on pandas 3 (tests/monitor checks their results).
"""

from __future__ import annotations

import numpy as np
import pandas.core.dtypes.common as _common
from pandas.api.types import pandas_dtype


def _infer_dtype_from_object(dtype) -> type:
    """pandas 2's: the scalar type of a dtype, a type, or a dtype's name."""
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        return dtype
    return pandas_dtype(dtype).type


if not hasattr(_common, "infer_dtype_from_object"):
    _common.infer_dtype_from_object = _infer_dtype_from_object

from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

__all__ = ["DataDefinition", "DataDriftPreset", "Dataset", "Report"]
