"""`python -m predictor.fetch NAME VERSION DEST [RUN_ID]`: download one model version's artifacts
and, with its run id, the run's sample of training districts (`DEST/../reference.csv`,
predictor.districts.SAMPLE; a run without one is said on stderr and is no failure).

Run as a short-lived child of the predictor, so that the serving process never imports MLflow
(tens of MB of resident memory, and seconds of start-up) just to copy a folder once per version.
"""

from __future__ import annotations

import sys
from pathlib import Path

from housing.failures import first_line
from housing.monitor.reference import ARTIFACT_PATH, FRAME_FILE


def main() -> None:
    name, version, dest = sys.argv[1:4]
    run_id = sys.argv[4] if len(sys.argv) > 4 else ""
    import mlflow

    mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=dest)
    if run_id:
        try:
            mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=f"{ARTIFACT_PATH}/{FRAME_FILE}",
                dst_path=str(Path(dest).parent),
            )
        except Exception as exc:  # noqa: BLE001 - the model serves without it
            print(f"no district sample: {first_line(exc)}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - the parent reads this one line
        print(f"{type(exc).__name__}: {first_line(exc)}", file=sys.stderr)
        sys.exit(1)
