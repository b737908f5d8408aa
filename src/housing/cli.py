"""The `housing` command: data, the pipeline's stages, and the registry."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from housing import __version__, defaults
from housing.failures import first_line
from housing.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(no_args_is_help=True, help="Get and check the raw data set.")
app.add_typer(data_app, name="data")
monitor_app = typer.Typer(no_args_is_help=True, help="Live quality and drift (the monitor).")
app.add_typer(monitor_app, name="monitor")
feedback_app = typer.Typer(no_args_is_help=True, help="The real prices posted back (/feedback).")
app.add_typer(feedback_app, name="feedback")
retrain_app = typer.Typer(no_args_is_help=True, help="The monitor's retrain requests.")
app.add_typer(retrain_app, name="retrain")

# The stages' default paths: dvc.yaml passes each one explicitly; these serve a person at a prompt.
RAW = Path("data/raw/housing.csv")
PARAMS = Path("params.yaml")
FEEDBACK = Path("data/feedback/feedback.csv")
TRAIN_CSV, TEST_CSV = Path("data/prepared/train.csv"), Path("data/prepared/test.csv")
MODEL_DIR, METRICS = Path("models/trained"), Path("metrics/test.json")
PathOpt = Annotated[Path, typer.Option()]


# --debug: a failure shows its traceback instead of one line.
_options = {"debug": False}


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"housing {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="HOUSING_DEBUG", help="Show a failure's whole traceback."),
    ] = False,
) -> None:
    """California housing prices: the data, the pipeline's stages, the registry and the log.
    Settings come from the environment (README: Settings)."""
    _options["debug"] = debug


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def refuse(exc: Exception, message: str) -> None:
    """`fail(message)` for an expected failure `exc`; with --debug, `exc` with its traceback."""
    if _options["debug"]:
        raise exc
    fail(message)


@data_app.command("fetch")
def data_fetch(dest: PathOpt = RAW) -> None:
    """Download the raw CSV from HOUSING_DATA_URL, verify its sha256, write it atomically."""
    from rich.progress import DownloadColumn, TransferSpeedColumn

    from housing.data.fetch import FetchError, fetch_configured

    settings = get_settings()

    def fetch() -> None:
        try:
            with _progress(f"fetching {dest.name}", DownloadColumn(), TransferSpeedColumn()) as bar:
                advance = bar and (lambda received, size: bar(advance=received, total=size))
                fetch_configured(settings, dest, advance)
        except FetchError as exc:
            refuse(exc, str(exc))

    _guard(fetch)
    typer.echo(f"{dest}: sha256 {settings.data_sha256} verified")


@data_app.command("validate")
def data_validate(path: Annotated[Path, typer.Argument()] = RAW) -> None:
    """Check a CSV against the feature contract."""
    from housing.data.validate import DataValidationError, read_raw

    def read():
        try:
            return read_raw(path)
        except OSError as exc:
            refuse(exc, first_line(exc))  # names the file itself
        except (DataValidationError, UnicodeDecodeError) as exc:
            refuse(exc, f"{path}: {first_line(exc)}")

    frame = _guard(read)
    typer.echo(f"{path}: {len(frame)} rows, valid")


@app.command()
def prepare(
    raw: PathOpt = RAW,
    out_dir: PathOpt = Path("data/prepared"),
    params: PathOpt = PARAMS,
    feedback: Annotated[
        Path, typer.Option(help="Labelled live rows added to train when prepare.feedback is true")
    ] = FEEDBACK,
):
    """Stage prepare: validate the raw data and split it 80/20, stratified on income (and with
    prepare.feedback, add the feedback rows to train; the test split stays the raw data's)."""
    from housing.stages import prepare as stage

    counts = _guard(lambda: stage.run(raw, out_dir, params, feedback))
    added = (
        f" ({counts['feedback']} from {feedback}; {counts['feedback_left_out']} repeating a test "
        "district left out)"
        if counts["feedback"] or counts["feedback_left_out"]
        else ""
    )
    typer.echo(
        f"prepared {counts['train']} train{added} and {counts['test']} test rows in {out_dir}"
    )


@app.command()
def train(
    train_csv: PathOpt = TRAIN_CSV,
    out_dir: PathOpt = MODEL_DIR,
    params: PathOpt = PARAMS,
):
    """Stage train: fit the pipeline (preprocessing and regressor) on the train split."""
    from rich.progress import MofNCompleteColumn

    from housing.stages import train as stage

    # On a terminal a bar of boosting iterations; where stderr is a log, the fit's own lines.
    with _progress("boosting", MofNCompleteColumn()) as bar:
        advance = bar and (lambda done, total: bar(completed=done, total=total))
        info = _guard(lambda: stage.run(train_csv, out_dir, params, advance))
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
    feedback: Annotated[
        Path, typer.Option(help="The feedback prepare added to train (prepare.feedback)")
    ] = FEEDBACK,
):
    """Stage register: log the run (with the model card) to MLflow, register the model, apply
    the promotion gate."""
    from housing.stages import register as stage

    settings = get_settings()
    result = _guard(
        lambda: stage.run(
            settings, raw, model_dir, train_csv, test_csv, metrics, params, out, reports, feedback
        )
    )
    verdict = "now champion" if result["promoted"] else "not promoted"
    typer.echo(
        f"registered {result['name']} v{result['version']} ({verdict}: {result['reason']}); "
        f"champion is v{result['champion_version']}"
    )


@app.command()
def promote(
    version: Annotated[
        str | None, typer.Argument(help="Model version to make champion (not with --from-shadow)")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, recorded on the version")] = "",
    from_shadow: Annotated[
        bool,
        typer.Option(
            "--from-shadow",
            help="Promote the challenger if it beat the champion in shadow on live labelled "
            "records (PREDICTION_LOG_URL; MONITOR_SHADOW_MARGIN, MONITOR_SHADOW_MIN_LABELLED); "
            "otherwise say why not and exit 1",
        ),
    ] = False,
):
    """Move the champion alias: by hand (a version, with a reason that is recorded), or from
    the shadow comparison (the figures are the recorded reason)."""
    if from_shadow:
        if version is not None:
            fail("--from-shadow promotes the challenger: give no version")
        return _promote_from_shadow()
    if version is None:
        fail("give the version to promote, or --from-shadow")
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


def _promote_from_shadow() -> None:
    from mlflow import MlflowClient

    from housing.monitor.promotion import promote_from_shadow
    from housing.monitor.settings import MonitorSettings
    from housing.predictions import store
    from housing.predictions.settings import PredictionLogSettings
    from housing.secret_files import export_from_files
    from housing.tracking.server import ensure_reachable

    _guard(export_from_files)  # PGPASSWORD_FILE, in the stack
    settings, monitor = get_settings(), _guard(MonitorSettings)
    log_settings = PredictionLogSettings()
    if not log_settings.enabled:
        fail("PREDICTION_LOG_URL is empty: there is no prediction log to compare in")

    def decide():
        ensure_reachable(settings.tracking_uri, settings.tracking_timeout_s)
        engine = store.connect(log_settings.url, log_settings.connect_timeout_s)
        try:
            store.ensure_schema(engine)
            client = MlflowClient(tracking_uri=settings.tracking_uri)
            return promote_from_shadow(client, settings.model_name, engine, monitor)
        finally:
            engine.dispose()

    verdict = _guard(decide)
    if not verdict.promoted:
        fail(f"not promoted: {verdict.reason}")
    typer.echo(f"{settings.model_name}: champion is now v{verdict.champion} ({verdict.reason})")


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


@retrain_app.command("pending")
def retrain_pending():
    """Print the pending retrain request (when, why) and exit 0; exit 1 when none is pending,
    2 when the registry cannot be asked (.github/workflows/retrain.yml trains only on 0)."""
    import json

    from mlflow import MlflowClient

    from housing.monitor import retrain
    from housing.secret_files import export_from_files
    from housing.tracking.server import ensure_reachable

    _guard(export_from_files)  # MLFLOW_TRACKING_PASSWORD_FILE, in the stack
    settings = get_settings()

    def ask():
        ensure_reachable(settings.tracking_uri, settings.tracking_timeout_s)
        return retrain.pending(
            MlflowClient(tracking_uri=settings.tracking_uri), settings.model_name
        )

    try:
        found = ask()
    except Exception as exc:  # noqa: BLE001 - one line, and a code apart from "none pending"
        if _options["debug"]:
            raise
        typer.echo(f"error: {type(exc).__name__}: {first_line(exc)}", err=True)
        raise typer.Exit(2) from None
    if found is None:
        fail(f"no retrain request is pending on {settings.model_name}")
    typer.echo(json.dumps(found))


@monitor_app.command("run")
def monitor_run(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole summary as JSON")
    ] = False,
):
    """One pass over the prediction log's window: live RMSE, MAE and coverage per version, drift
    of each field from the served version's training data (MONITOR_*, PREDICTION_LOG_URL)."""
    import json

    from housing.monitor.run import Monitor
    from housing.monitor.settings import MonitorSettings
    from housing.predictions.settings import PredictionLogSettings
    from housing.secret_files import export_from_files

    _guard(export_from_files)  # PGPASSWORD_FILE, in the stack
    log_settings = PredictionLogSettings()
    if not log_settings.enabled:
        fail("PREDICTION_LOG_URL is empty: there is no prediction log to monitor")
    settings = _guard(MonitorSettings)
    monitor = _guard(lambda: Monitor(settings, log_settings.url, log_settings.connect_timeout_s))
    try:
        summary = _guard(monitor.run)
    finally:
        monitor.close()
    typer.echo(
        json.dumps(summary, indent=1)
        if as_json
        else "\n".join(_monitor_lines(summary, settings.state_dir))
    )


def _monitor_lines(summary: dict, state_dir: Path) -> list[str]:
    lines = [
        f"window {summary['window']['start']} to {summary['window']['end']}: "
        f"{summary['predictions']} predictions, {summary['labelled']} labelled"
    ]
    for version, figures in summary["models"].items():
        shown = "  ".join(
            f"{key} {figures[key]:,.0f}" if key in ("rmse", "mae") else f"{key} {figures[key]:.3f}"
            for key in ("rmse", "mae", "coverage")
            if figures[key] is not None
        )
        lines.append(
            f"v{version}: {figures['predictions']} predictions, "
            f"{figures['labelled']} labelled  {shown}".rstrip()
        )
    drifted = [field for field, found in summary["drift"].items() if found["drifted"]]
    if summary["drift"]:
        lines.append("drifted: " + (", ".join(drifted) if drifted else "none"))
    if summary["drift_note"]:
        lines.append(summary["drift_note"])
    for challenger, pair in summary["shadow"].items():
        rmse = pair["rmse"]
        figures = (
            f": RMSE {rmse['challenger']:,.0f} vs {rmse['champion']:,.0f}"
            if pair["labelled"]
            else ""
        )
        lines.append(
            f"shadow v{challenger} vs champion v{pair['champion']}: {pair['scored']} scored, "
            f"{pair['labelled']} labelled{figures}"
        )
    retrain = summary.get("retrain") or {}
    if retrain.get("reasons"):
        if retrain.get("error"):
            said = f"not recorded: {retrain['error']}"
        else:
            said = "recorded" if retrain["requested"] else "one is pending, or was just acted on"
        lines.append(f"retrain wanted ({said}): {'; '.join(retrain['reasons'])}")
    if summary["report"]:
        lines.append(f"report: {state_dir / 'report.html'}")
    if summary.get("mlflow_error"):
        lines.append(f"not logged to MLflow: {summary['mlflow_error']}")
    return lines


@app.command()
def predict(
    input_csv: Annotated[
        Path, typer.Option("--input", "-i", help="CSV of districts: the nine feature columns")
    ],
    output_csv: Annotated[
        Path, typer.Option("--output", "-o", help="CSV to write: the input's rows and the price")
    ] = Path("predictions.csv"),
    url: Annotated[
        str, typer.Option(envvar="HOUSING_GATEWAY_URL", help="The gateway's address")
    ] = f"http://127.0.0.1:{defaults.GATEWAY_PORT}",
    key: Annotated[
        str | None, typer.Option(envvar="HOUSING_API_KEY", help="An API key of the gateway")
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(min=0.5, max=0.99, help="Add each price's interval at this level"),
    ] = None,
    local: Annotated[
        bool, typer.Option(help="Score in this process with --model-dir, not through the gateway")
    ] = False,
    model_dir: Annotated[Path, typer.Option(help="The train stage's model (--local)")] = MODEL_DIR,
    chunk: Annotated[
        int, typer.Option(min=1, max=defaults.MAX_RECORDS, help="Rows per request")
    ] = 1000,
):
    """Score a CSV of districts, through the gateway (or --local), with a progress bar; the
    output is written whole or not at all."""
    from rich.progress import MofNCompleteColumn

    from housing import batch

    header, rows = _guard(lambda: _or_fail(batch.read_districts, input_csv))
    score, source = (batch.score_local, (model_dir,)) if local else (batch.score_remote, (url, key))
    with _progress("scoring", MofNCompleteColumn(), total=len(rows)) as bar:
        advance = (lambda scored: bar(advance=scored)) if bar else (lambda scored: None)
        scored = _guard(lambda: _or_fail(score, rows, *source, interval, chunk, advance))
    _guard(lambda: batch.write_scored(output_csv, header, rows, scored, interval is not None))
    typer.echo(f"{output_csv}: {len(rows)} districts scored")


@app.command()
def status(
    predictors: Annotated[
        str,
        typer.Option(envvar="PREDICTOR_URLS", help="The predictors' addresses, comma-separated"),
    ] = f"http://{defaults.LOCAL_HOST}:{defaults.PREDICTOR_PORT}",
):
    """The champion and the challenger with their metrics, and what each predictor serves."""
    from housing import registry_status

    settings = get_settings()
    urls = [url.strip() for url in predictors.split(",") if url.strip()]
    lines = _guard(lambda: registry_status.describe(settings, urls))
    typer.echo("\n".join(lines))


@contextmanager
def _progress(label: str, *columns, total: float | None = None):
    """A rich bar on stderr when it is a terminal, as `update(**fields)` (rich's
    Progress.update of its one task); None where stderr is a log (CI, dvc, a container)."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    shown = (*Progress.get_default_columns()[:2], *columns)
    with Progress(*shown, console=console, transient=True) as bar:
        yield partial(bar.update, bar.add_task(label, total=total))


def _or_fail(action, *args):
    """`action(*args)`, its BatchError (a reason to stop, already readable) one line as it is."""
    from housing.batch import BatchError

    try:
        return action(*args)
    except BatchError as exc:
        refuse(exc, str(exc))


def _guard(action):
    """Run a stage; turn any failure into one readable line and exit code 1 (--debug: the
    traceback)."""
    try:
        return action()
    except (KeyboardInterrupt, typer.Exit):
        raise
    except Exception as exc:  # noqa: BLE001 - the CLI's contract is one line, not a traceback
        if _options["debug"]:
            raise
        kind = type(exc).__name__
        message = first_line(exc)
        fail(f"{kind}: {message}" if kind not in message else message)


def main() -> None:
    app(sys.argv[1:])


if __name__ == "__main__":
    main()
