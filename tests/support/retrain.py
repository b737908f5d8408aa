"""A retrain request recorded as the monitor records it, with the monitor's own MLflow user (its
grant): `python -c ASK_FOR_A_RETRAIN` in a monitor container prints True when it recorded one."""

ASK_FOR_A_RETRAIN = (
    "from housing.secret_files import export_from_files; export_from_files(); "
    "from mlflow import MlflowClient; from housing.monitor import retrain; "
    "from housing.settings import TrainingSettings; s = TrainingSettings(); "
    "print(retrain.request(MlflowClient(s.tracking_uri), s.model_name, ['deploy-test'], '1', 0))"
)
