"""housing-mlops: California housing prices, from raw CSV to a served model."""

__version__ = "0.1.0"
