"""A pass's figures as Prometheus gauges on the monitor's metrics port: what the alert rules
(deploy/prometheus/alerts.yml) read."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge

PER_VERSION = ("predictions", "labelled", "rmse", "mae", "coverage")
PREDICTION = "prediction"  # the drift gauges' field label for the predictions' own drift


class Gauges:
    def __init__(self, registry: CollectorRegistry):
        def gauge(name: str, doc: str, labels=()) -> Gauge:
            return Gauge(f"monitor_{name}", doc, labels, registry=registry)

        self.window_predictions = gauge("window_predictions", "Predictions in the window")
        self.window_labelled = gauge("window_labelled", "Of them, with an actual")
        self.version = {
            "predictions": gauge("predictions", "Predictions in the window", ["version"]),
            "labelled": gauge("labelled", "Labelled predictions in the window", ["version"]),
            "rmse": gauge("rmse_usd", "RMSE on the labelled predictions, USD", ["version"]),
            "mae": gauge("mae_usd", "MAE on the labelled predictions, USD", ["version"]),
            "coverage": gauge(
                "interval_coverage", "Share of actuals inside their interval", ["version"]
            ),
        }
        self.drift_score = gauge("drift_score", "Evidently's drift score", ["field"])
        self.drifted = gauge("drifted", "1 when Evidently finds the field drifted", ["field"])
        self.missing = gauge("missing_ratio", "Share of the field missing", ["field"])
        self.out_of_range = gauge(
            "out_of_range_ratio", "Share of the field outside what training saw", ["field"]
        )
        self.shadow_rmse = gauge(
            "shadow_rmse_usd",
            "RMSE on the labelled records both scored, USD (role: champion or challenger)",
            ["challenger", "role"],
        )
        self.served = gauge("served_info", "The version whose inputs are compared", ["version"])
        self.retrain_wanted = gauge(
            "retrain_wanted", "1 when the last pass asked for a retrain (its reasons in /monitor)"
        )
        self.pass_seconds = gauge("pass_duration_seconds", "How long the last pass took")
        self.last_pass = gauge("last_pass_timestamp_seconds", "When the last pass finished")
        self.failures = Counter("monitor_pass_failures", "Passes that failed", registry=registry)
        self.mlflow_failures = Counter(
            "monitor_mlflow_log_failures", "Passes not logged to MLflow", registry=registry
        )

    def update(self, summary: dict) -> None:
        self.window_predictions.set(summary["predictions"])
        self.window_labelled.set(summary["labelled"])
        labelled = (*self.version.values(), self.drift_score, self.drifted, self.missing)
        for gauge in (*labelled, self.out_of_range, self.served, self.shadow_rmse):
            gauge.clear()  # a version or field no longer in the window leaves no stale figure
        for version, figures in summary["models"].items():
            for key, gauge in self.version.items():
                if figures[key] is not None:
                    gauge.labels(version).set(figures[key])
        drifts = dict(summary["drift"])
        if summary["prediction_drift"]:
            drifts[PREDICTION] = summary["prediction_drift"]
        for field, found in drifts.items():
            self.drift_score.labels(field).set(found["score"])
            self.drifted.labels(field).set(int(found["drifted"]))
        for field, found in summary["fields"].items():
            if found["missing"] is not None:
                self.missing.labels(field).set(found["missing"])
            if found["out_of_range"] is not None:
                self.out_of_range.labels(field).set(found["out_of_range"])
        for challenger, pair in summary["shadow"].items():
            for role, value in pair["rmse"].items():
                if value is not None:
                    self.shadow_rmse.labels(challenger, role).set(value)
        if summary["served"]:
            self.served.labels(summary["served"]["version"]).set(1)
        self.retrain_wanted.set(int(bool(summary.get("retrain", {}).get("reasons"))))
        self.pass_seconds.set(summary["seconds"])
        self.last_pass.set(time.time())
        if summary.get("mlflow_error"):
            self.mlflow_failures.inc()
