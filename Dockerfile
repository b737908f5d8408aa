# Every Python image of the stack, one target each: mlflow, trainer, predictor, gateway, monitor
# (compose.yaml builds them by target). Each image's dependencies are synced from uv.lock (exact
# versions, hashes checked) into /opt/venv before any code is copied, so a code change rebuilds
# only the last layers. The Python minor version is pyproject.toml's requires-python.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS base
# MLflow never unpickles a model here: ours are skops files, loaded through an allow-list.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    PATH=/opt/venv/bin:$PATH \
    MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app

# uv (the version pyproject.toml requires) and the lock; each image's environment is synced from it,
# with its bytecode compiled now (the images set PYTHONDONTWRITEBYTECODE: nothing writes it later).
FROM base AS lock
COPY pyproject.toml uv.lock scripts/install-uv.sh /build/
RUN /build/install-uv.sh /opt/uv /build/pyproject.toml
WORKDIR /build
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_NATIVE_TLS=true \
    UV_NO_CACHE=true \
    UV_LINK_MODE=copy \
    UV_FROZEN=true \
    UV_COMPILE_BYTECODE=true

FROM lock AS env-mlflow
RUN /opt/uv/bin/uv sync --no-install-project --extra tracking-server
FROM lock AS env-trainer
RUN /opt/uv/bin/uv sync --no-install-project --extra train
FROM lock AS env-predictor
RUN /opt/uv/bin/uv sync --no-install-project --extra predictor
FROM lock AS env-gateway
RUN /opt/uv/bin/uv sync --no-install-project --extra gateway
# The monitor's extra holds the predictor's and Evidently's: synced on top of the predictor's
# environment, only Evidently and what it pulls are installed again.
FROM env-predictor AS env-monitor
RUN /opt/uv/bin/uv sync --no-install-project --extra monitor

# The predictor's C tree kernel, built here so that the served image carries no compiler.
# Debian's gcc of the base image's release: no version pin.
FROM base AS native
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/build-native.sh /build/scripts/
COPY src/housing/model/leaf_tables.c src/housing/model/feature_kernels.c /build/src/housing/model/
RUN /build/scripts/build-native.sh \
 && test -f /build/src/housing/model/_kernels.so

# The MLflow tracking server with its basic-auth app: PostgreSQL backend store, artifacts proxied
# to S3 (--serve-artifacts), so that no client needs S3 credentials. Of the project's code, only
# the defaults (names of the experiment and the model) and the secret-file reader.
FROM base AS mlflow
COPY --from=env-mlflow /opt/venv /opt/venv
COPY src/housing/__init__.py src/housing/defaults.py src/housing/secret_files.py /app/housing/
COPY services/mlflow/*.py /app/
USER 10001
# MLflow's own default port, and housing.defaults.MLFLOW_PORT (tests/unit/test_definitions.py).
ENV MLFLOW_PORT=5000 \
    PYTHONPATH=/app
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=30 \
  CMD ["python", "/app/health.py"]
ENTRYPOINT ["python", "/app/start.py"]

# The trainer: a one-shot job that runs the DVC pipeline (dvc.yaml) against the stack's MLflow.
FROM base AS trainer
COPY --from=env-trainer /opt/venv /opt/venv
RUN mkdir -p /work /input \
 && chown 10001 /work \
 && printf '#!/bin/sh\nexec python -m housing "$@"\n' > /usr/local/bin/housing \
 && chmod 755 /usr/local/bin/housing
COPY dvc.yaml params.yaml .dvcignore /app/
COPY .dvc/config /app/.dvc/config
COPY data/raw/housing.csv.dvc data/raw/.gitignore /app/data/raw/
COPY data/feedback/README.md data/feedback/.gitignore /app/data/feedback/
COPY src /app/src
COPY services/trainer/trainer /app/services/trainer/trainer
ENV PYTHONPATH=/app/src:/app/services/trainer
USER 10001
WORKDIR /work
CMD ["python", "-m", "trainer"]

# What the HTTP services share: how they start and how their health is probed. SERVICE, set by
# each of them, names its Python package (`python -m <package>`) and its port's variable; the
# probe runs every few seconds, so it is the light housing.web.probe.
FROM base AS http-service
HEALTHCHECK --interval=3s --timeout=3s --start-period=30s --retries=40 \
  CMD ["python", "-m", "housing.web.probe"]
CMD ["/bin/sh", "-c", "exec python -m \"$SERVICE\""]

# The predictor: serves the registry's champion; its model cache is a volume at /cache.
FROM http-service AS predictor
COPY --from=env-predictor /opt/venv /opt/venv
RUN mkdir -p /cache && chown 10001 /cache
COPY src /app/src
COPY --from=native /build/src/housing/model/_kernels.so /app/src/housing/model/
COPY services/predictor/predictor /app/services/predictor/predictor
ENV SERVICE=predictor \
    PREDICTOR_HOST=0.0.0.0 \
    PREDICTOR_METRICS_HOST=0.0.0.0 \
    PYTHONPATH=/app/src:/app/services/predictor
USER 10001

# The gateway: the only service clients reach. No pandas or scikit-learn in this image.
FROM http-service AS gateway
COPY --from=env-gateway /opt/venv /opt/venv
COPY src/housing/__init__.py src/housing/contract.py src/housing/defaults.py \
     src/housing/secret_files.py /app/src/housing/
COPY src/housing/web /app/src/housing/web
COPY src/housing/predictions /app/src/housing/predictions
COPY services/gateway/gateway /app/services/gateway/gateway
ENV SERVICE=gateway \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_METRICS_HOST=0.0.0.0 \
    PYTHONPATH=/app/src:/app/services/gateway
USER 10001

# The monitor: a pass over the prediction log every interval (Evidently's drift statistics); its
# state (latest summary, report, references) is a volume at /state.
FROM http-service AS monitor
COPY --from=env-monitor /opt/venv /opt/venv
RUN mkdir -p /state && chown 10001 /state
COPY src /app/src
COPY services/monitor/monitor /app/services/monitor/monitor
ENV SERVICE=monitor \
    MONITOR_HOST=0.0.0.0 \
    MONITOR_METRICS_HOST=0.0.0.0 \
    MONITOR_STATE_DIR=/state \
    PYTHONPATH=/app/src:/app/services/monitor
USER 10001
