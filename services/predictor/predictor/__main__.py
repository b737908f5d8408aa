"""`python -m predictor`: serve on the configured host and port (probed by housing.web.probe)."""

import sys

from housing.web.runtime import run
from predictor.settings import PredictorSettings


def main() -> None:
    settings = PredictorSettings()
    run("predictor.app:create_app", settings, sys.argv[1:])


if __name__ == "__main__":
    main()
