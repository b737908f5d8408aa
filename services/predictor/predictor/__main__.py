"""`python -m predictor`: serve with uvicorn on the configured host and port."""

import uvicorn

from predictor.settings import PredictorSettings


def main() -> None:
    settings = PredictorSettings()
    uvicorn.run(
        "predictor.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,  # request counts and latencies are in /metrics
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
