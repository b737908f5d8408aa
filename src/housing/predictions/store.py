"""Opening the prediction log: one engine per process, the schema created when missing."""

from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from housing.predictions.settings import DEFAULT_CONNECT_TIMEOUT_S
from housing.predictions.table import metadata


def connect(url: str, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> Engine:
    """An engine on the log at `url` (`sqlite:///file.db` or `postgresql+psycopg2://...`).

    PostgreSQL's password comes from libpq's own PGPASSWORD (a secret file in the stack, see
    housing.secret_files), so that the URL, which settings and logs may show, carries none."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": connect_timeout_s})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    seconds = max(1, round(connect_timeout_s))
    return create_engine(
        parsed,
        # A store that is down or unreachable fails a write within seconds, never the OS's
        # minutes: a connection's first packet (connect_timeout), a peer gone while a pooled
        # connection waits on it (keepalives, tcp_user_timeout, in libpq's names), a statement.
        connect_args={
            "connect_timeout": seconds,
            "keepalives": 1,
            "keepalives_idle": seconds,
            "keepalives_interval": 1,
            "keepalives_count": 3,
            "tcp_user_timeout": seconds * 2000,
            "options": f"-c statement_timeout={seconds * 4000}",
        },
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=2,
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: the writer and the readers (feedback, export) do not block one another; NORMAL
    # syncs at checkpoints, not at every commit (a power cut may lose the last batch, not the file).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def ensure_schema(engine: Engine) -> None:
    """Create the tables that are missing (every writer calls this before its first write)."""
    metadata.create_all(engine, checkfirst=True)


class LogStore:
    """The log as a long-lived writer uses it (the predictor's thread, the gateway's feedback):
    opened at first use, so that a service starts without its store; the schema checked once,
    and again after a failure (the store may have come back empty)."""

    def __init__(self, url: str, connect_timeout_s: float):
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self._engine: Engine | None = None
        self._schema_ready = False

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = connect(self.url, self.connect_timeout_s)
        if not self._schema_ready:
            ensure_schema(self._engine)
            self._schema_ready = True
        return self._engine

    def failed(self) -> None:
        """A write failed: check the schema before the next one."""
        self._schema_ready = False

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
