"""housing-mlops: California housing prices, from raw CSV to a served model."""
