"""What a failure says, in the one line a CLI, a job or a log entry shows."""

from __future__ import annotations

from pydantic import ValidationError


def first_line(exc: BaseException) -> str:
    """The first line of the exception's message, or its type's name when it has none; an
    OSError as "<file>: <what>" ("data: Is a directory"), without errno's number."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    if isinstance(exc, ValidationError):  # pydantic's first line only counts the errors
        return _invalid(exc)
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _invalid(exc: ValidationError) -> str:
    """A settings class's or a model's first error: "MonitorSettings: window_hours: Input should
    be greater than 0, got -1 (and 1 more)"."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    got = (
        f", got {first['input']!r}"
        if "input" in first and not isinstance(first["input"], dict)
        else ""
    )
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{exc.title}: {where + ': ' if where else ''}{first['msg']}{got}{more}"
