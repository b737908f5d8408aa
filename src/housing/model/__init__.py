"""The model: a scikit-learn pipeline holding every preprocessing step, and its compiled form."""
