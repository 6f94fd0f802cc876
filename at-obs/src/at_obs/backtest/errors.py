"""Typed backtest errors: a bad input names its file, line and column."""

from __future__ import annotations

from at_obs.errors import ObsError


class BacktestError(ObsError):
    """Root of every backtest error."""


class InputFileError(BacktestError, ValueError):
    """A bars or trades file that cannot be used, with where it went wrong.

    Attributes:
        path: the file (as given).
        line: 1-based line number in the file, None for a whole-file problem.
        column: the column's header name, None when the problem is the whole line.
        reason: what is wrong, in words a trader can act on.
    """

    def __init__(self, path: str, reason: str, *, line: int | None = None, column: str | None = None) -> None:
        self.path, self.reason, self.line, self.column = path, reason, line, column
        where = path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {reason}")


class StackError(BacktestError, RuntimeError):
    """The services under backtest could not be started or stopped."""

    def __init__(self, reason: str, log_tail: str = "") -> None:
        self.reason, self.log_tail = reason, log_tail
        super().__init__(reason + (f"\n{log_tail}" if log_tail else ""))
