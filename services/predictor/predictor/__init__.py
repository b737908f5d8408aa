"""The predictor: serves the registry's champion over HTTP and swaps to a new one in place."""
