"""The model card and plots the `report` stage writes and `register` logs with each version."""
