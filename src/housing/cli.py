"""The `housing` command: data, the pipeline's stages, and the registry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from housing.failures import first_line
from housing.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(no_args_is_help=True, help="Get and check the raw data set.")
app.add_typer(data_app, name="data")
feedback_app = typer.Typer(no_args_is_help=True, help="The real prices posted back (/feedback).")
app.add_typer(feedback_app, name="feedback")

# The stages' default paths: dvc.yaml passes each one explicitly; these serve a person at a prompt.
RAW = Path("data/raw/housing.csv")
PARAMS = Path("params.yaml")
TRAIN_CSV, TEST_CSV = Path("data/prepared/train.csv"), Path("data/prepared/test.csv")
MODEL_DIR, METRICS = Path("models/trained"), Path("metrics/test.json")
PathOpt = Annotated[Path, typer.Option()]


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@data_app.command("fetch")
def data_fetch(dest: PathOpt = RAW) -> None:
    """Download the raw CSV from HOUSING_DATA_URL, verify its sha256, write it atomically."""
    from housing.data.fetch import FetchError, fetch_configured

    settings = get_settings()
    try:
        fetch_configured(settings, dest)
    except FetchError as exc:
        fail(str(exc))
    typer.echo(f"{dest}: sha256 {settings.data_sha256} verified")


@data_app.command("validate")
def data_validate(path: Annotated[Path, typer.Argument()] = RAW) -> None:
    """Check a CSV against the feature contract."""
    from housing.data.validate import DataValidationError, read_raw

    try:
        frame = read_raw(path)
    except (DataValidationError, FileNotFoundError) as exc:
        fail(f"{path}: {exc}")
    typer.echo(f"{path}: {len(frame)} rows, valid")


@app.command()
def prepare(raw: PathOpt = RAW, out_dir: PathOpt = Path("data/prepared"), params: PathOpt = PARAMS):
    """Stage prepare: validate the raw data and split it 80/20, stratified on income."""
    from housing.stages import prepare as stage

    n_train, n_test = _guard(lambda: stage.run(raw, out_dir, params))
    typer.echo(f"prepared {n_train} train and {n_test} test rows in {out_dir}")


@app.command()
def train(
    train_csv: PathOpt = TRAIN_CSV,
    out_dir: PathOpt = MODEL_DIR,
    params: PathOpt = PARAMS,
):
    """Stage train: fit the pipeline (preprocessing and regressor) on the train split."""
    from housing.stages import train as stage

    info = _guard(lambda: stage.run(train_csv, out_dir, params))
    validated = (
        f"; {info['cv_rmse_mean']:,.0f} ± {info['cv_rmse_std']:,.0f} RMSE in cross-validation"
        if "cv_rmse_mean" in info
        else ""
    )
    typer.echo(f"trained on {info['train_rows']} rows in {info['fit_seconds']:.1f}s{validated}")


@app.command()
def evaluate(
    model_dir: PathOpt = MODEL_DIR,
    test_csv: PathOpt = TEST_CSV,
    metrics: PathOpt = METRICS,
):
    """Stage evaluate: RMSE, MAE, MSE and R² on the test split."""
    from housing.stages import evaluate as stage

    result = _guard(lambda: stage.run(model_dir, test_csv, metrics))
    typer.echo(f"test RMSE {result['rmse']:,.0f}  MAE {result['mae']:,.0f}  R² {result['r2']:.3f}")


@app.command()
def report(
    raw: PathOpt = RAW,
    model_dir: PathOpt = MODEL_DIR,
    test_csv: PathOpt = TEST_CSV,
    metrics: PathOpt = METRICS,
    params: PathOpt = PARAMS,
    out_dir: PathOpt = Path("reports"),
):
    """Stage report: the model card (model_card.md) and its plots, from the test split."""
    from housing.stages import report as stage

    _guard(lambda: stage.run(raw, model_dir, test_csv, metrics, params, out_dir))
    typer.echo(f"model card and plots in {out_dir}")


@app.command()
def register(
    raw: PathOpt = RAW,
    model_dir: PathOpt = MODEL_DIR,
    train_csv: PathOpt = TRAIN_CSV,
    test_csv: PathOpt = TEST_CSV,
    metrics: PathOpt = METRICS,
    params: PathOpt = PARAMS,
    reports: PathOpt = Path("reports"),
    out: PathOpt = Path("models/registration.json"),
):
    """Stage register: log the run (with the model card) to MLflow, register the model, apply
    the promotion gate."""
    from housing.stages import register as stage

    settings = get_settings()
    result = _guard(
        lambda: stage.run(
            settings, raw, model_dir, train_csv, test_csv, metrics, params, out, reports
        )
    )
    verdict = "now champion" if result["promoted"] else "not promoted"
    typer.echo(
        f"registered {result['name']} v{result['version']} ({verdict}: {result['reason']}); "
        f"champion is v{result['champion_version']}"
    )


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Model version to make champion")],
    reason: Annotated[str, typer.Option(help="Why, recorded on the version")],
):
    """Move the champion alias by hand, with a reason that is recorded."""
    from mlflow import MlflowClient

    from housing.tracking.registry import promote_by_hand
    from housing.tracking.server import ensure_reachable

    settings = get_settings()
    if not reason.strip():
        fail("--reason must say why")

    def move():
        ensure_reachable(settings.tracking_uri, settings.tracking_timeout_s)
        client = MlflowClient(tracking_uri=settings.tracking_uri)
        return promote_by_hand(client, settings.model_name, version, reason)

    previous = _guard(move)
    typer.echo(f"{settings.model_name}: champion v{previous or '-'} -> v{version} ({reason})")


@feedback_app.command("export")
def feedback_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV to write")] = Path("feedback.csv"),
):
    """Write the labelled predictions (PREDICTION_LOG_URL) as a CSV in the raw data's columns."""
    from housing.predictions.export import export
    from housing.predictions.settings import PredictionLogSettings
    from housing.secret_files import export_from_files

    _guard(export_from_files)  # PGPASSWORD_FILE, in the stack
    settings = PredictionLogSettings()
    if not settings.enabled:
        fail("PREDICTION_LOG_URL is empty: there is no prediction log to export")
    count = _guard(lambda: export(settings.url, out, settings.connect_timeout_s))
    typer.echo(f"{out}: {count} labelled predictions")


def _guard(action):
    """Run a stage; turn any failure into one readable line and exit code 1."""
    try:
        return action()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - the CLI's contract is one line, not a traceback
        kind = type(exc).__name__
        message = first_line(exc)
        fail(f"{kind}: {message}" if kind not in message else message)


def main() -> None:
    app(sys.argv[1:])


if __name__ == "__main__":
    main()
