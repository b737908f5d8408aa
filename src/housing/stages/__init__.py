"""The DVC pipeline's stages; `dvc.yaml` calls them through the `housing` CLI."""
