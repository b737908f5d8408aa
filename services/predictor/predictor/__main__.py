"""`python -m predictor`: serve with uvicorn on the configured host and port."""

from housing.web.runtime import serve
from predictor.settings import PredictorSettings


def main() -> None:
    settings = PredictorSettings()
    serve("predictor.app:create_app", settings.host, settings.port)


if __name__ == "__main__":
    main()
