"""MLflow: reaching the tracking server, logging runs, the registry and its promotion gate."""
