"""What a failure says, in the one line a CLI, a job or a log entry shows."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of the exception's message, or its type's name when it has none; an
    OSError as "<file>: <what>" ("data: Is a directory"), without errno's number."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
