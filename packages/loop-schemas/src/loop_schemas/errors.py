"""The one error type loop-schemas raises: a file or document that does not match its format."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where (a dotted field path, or "" for the whole) and what."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class SchemaError(ValueError):
    """A document that does not parse or validate. `str()` is one line; `.problems` lists every finding."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        first_line = message.splitlines()[0] if message else "invalid document"
        super().__init__(first_line)
        self.problems: list[Problem] = list(problems) if problems else [Problem("", first_line)]


def problems_from_validation(exc: object) -> list[Problem]:
    """Flatten a pydantic ValidationError into Problems (one per error, dotted location)."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return [Problem("", str(exc).splitlines()[0] if str(exc) else "invalid")]
    out: list[Problem] = []
    for err in errors(include_url=False):
        loc = ".".join(str(part) for part in err.get("loc", ()))
        msg = str(err.get("msg", "invalid")).splitlines()[0]
        out.append(Problem(loc, msg))
    return out or [Problem("", "invalid")]


def schema_error_from_validation(exc: object, what: str) -> SchemaError:
    problems = problems_from_validation(exc)
    return SchemaError(f"{what}: {problems[0]}", problems)


def describe_error(exc: BaseException, where: str | None = None) -> str:
    """One line a person can act on, for any exception a CLI did not expect: never a raw exception name.

    `where` (a file name, when the caller knows which file it was reading) prefixes the line.
    RecursionError reads "too deeply nested", MemoryError "too large", a UnicodeDecodeError
    "<where> is not UTF-8"; an OSError its file and reason; anything else its message's first line.
    """
    prefix = f"{where}: " if where else ""
    if isinstance(exc, RecursionError):
        return f"{prefix}too deeply nested to read"
    if isinstance(exc, MemoryError):
        return f"{prefix}too large to read"
    if isinstance(exc, UnicodeDecodeError):
        subject = where or "a file"
        return f"{subject} is not UTF-8 text (byte {exc.start})"
    if isinstance(exc, UnicodeEncodeError):
        return f"{prefix}text that cannot be written in this encoding ({exc.encoding})"
    if isinstance(exc, KeyError) and exc.args:
        return f"{prefix}missing key {exc.args[0]!r}"
    if isinstance(exc, OSError):
        reason = exc.strerror or _first_line(exc) or "an operating-system error"
        name = exc.filename if exc.filename is not None else where
        return f"{name}: {reason}" if name else reason
    text = _first_line(exc)
    return f"{prefix}{text}" if text else f"{prefix}an unexpected error with no message"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""
