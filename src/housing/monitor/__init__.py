"""The monitor: how well the served model does on the labelled predictions of a window, and how
far live inputs have moved from the training data of the version that answered them."""
