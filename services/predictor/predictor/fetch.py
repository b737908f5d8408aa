"""`python -m predictor.fetch NAME VERSION DEST`: download one model version's artifacts.

Run as a short-lived child of the predictor, so that the serving process never imports MLflow
(tens of MB of resident memory, and seconds of start-up) just to copy a folder once per version.
"""

from __future__ import annotations

import sys

from housing.failures import first_line


def main() -> None:
    name, version, dest = sys.argv[1:4]
    import mlflow

    mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=dest)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - the parent reads this one line
        print(f"{type(exc).__name__}: {first_line(exc)}", file=sys.stderr)
        sys.exit(1)
