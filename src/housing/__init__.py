"""housing-mlops: California housing prices, from raw CSV to a served model."""

# The one definition of the version (pyproject.toml reads it): the images run the source tree,
# not an installed package.
__version__ = "0.1.0"
