"""The stack's MLflow users and what each may do, applied as the admin once the server answers.

With the basic-auth app and `default_permission = NO_PERMISSIONS`, a user sees only what it was
granted: the trainer manages the experiment and the registered model (logs runs, registers
versions, moves aliases); the predictor only reads them; the monitor reads them and logs its
passes to the monitoring experiment. Idempotent: run at every start, it
creates what is missing and resets each password and permission to the configured one.
"""

from __future__ import annotations

import os

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient

from housing import defaults

# user: (the variable holding its password, its permission on the training experiment and
# the registered model, its permission on the monitoring experiment). The monitor reads runs
# (each version's reference) and logs its passes to the monitoring experiment.
USERS = {
    "trainer": ("MLFLOW_TRAINER_PASSWORD", "MANAGE", "READ"),
    "predictor": ("MLFLOW_PREDICTOR_PASSWORD", "READ", "NO_PERMISSIONS"),
    "monitor": ("MLFLOW_MONITOR_PASSWORD", "READ", "EDIT"),
}
# The monitor also records retrain requests as a tag on the registered model
# (housing.monitor.retrain). MLflow has no grant finer than EDIT for that, and EDIT on a
# model also allows moving its aliases (mlflow/server/auth: SetRegisteredModelTag and
# SetRegisteredModelAlias both need can_update); its code sets that one tag only.
MODEL_PERMISSION = {"monitor": "EDIT"}


def grant(base: str) -> None:
    """Call with MLFLOW_TRACKING_USERNAME/PASSWORD set to the admin's."""
    experiment_name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or defaults.EXPERIMENT_NAME
    monitoring_name = os.environ.get("MONITOR_EXPERIMENT") or defaults.MONITORING_EXPERIMENT
    model_name = os.environ.get("HOUSING_MODEL_NAME") or defaults.MODEL_NAME
    client = MlflowClient(base)
    experiment_id = _ensure_experiment(client, experiment_name)
    monitoring_id = _ensure_experiment(client, monitoring_name)
    _ensure_registered_model(client, model_name)
    auth = AuthServiceClient(base)
    for user, (variable, permission, monitoring) in USERS.items():
        _ensure_user(auth, user, os.environ[variable])
        _ensure_permission(auth, user, "experiment", experiment_id, permission)
        model_permission = MODEL_PERMISSION.get(user, permission)
        _ensure_permission(auth, user, "registered_model", model_name, model_permission)
        _ensure_permission(auth, user, "experiment", monitoring_id, monitoring)
    print(
        f"mlflow: users {', '.join(USERS)} granted on experiments {experiment_name!r}, "
        f"{monitoring_name!r} and model {model_name!r}",
        flush=True,
    )


def _ensure_experiment(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    return experiment.experiment_id if experiment else client.create_experiment(name)


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def _ensure_user(auth: AuthServiceClient, user: str, password: str) -> None:
    try:
        auth.create_user(user, password)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        auth.update_user_password(user, password)  # the secret may have been rotated


def _ensure_permission(auth, user: str, kind: str, resource: str, permission: str) -> None:
    current = auth.get_user_permission(user, kind, resource).permission
    if current == permission:
        return
    if current != "NO_PERMISSIONS":  # another grant: replaced (or revoked)
        auth.revoke_user_permission(user, kind, resource)
    if permission != "NO_PERMISSIONS":
        auth.grant_user_permission(user, kind, resource, permission)
