"""The images compose builds, as the tests that build, push and deploy them name them
(tests/unit/test_definitions.py checks this against compose.yaml and the deploy scripts)."""

OUR_IMAGES = ("mlflow", "trainer", "predictor", "gateway", "monitor")
