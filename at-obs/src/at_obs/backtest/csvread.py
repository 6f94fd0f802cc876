"""CSV cells that remember where they came from, so every parse error names line and column."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation

from at_obs.backtest.errors import InputFileError

MAX_BYTES = 512 * 1024 * 1024  # a year of one-minute bars is ~25 MB; far beyond this is not a bar file
_NUMERIC_TIME = re.compile(r"^\d{1,19}(\.\d+)?$")


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its 1-based file line and its cells by (lower-cased, stripped) header."""

    path: str
    line: int
    cells: dict[str, str]
    names: dict[str, str]  # lower-cased header -> header as written, for messages

    def text(self, key: str) -> str:
        return self.cells.get(key, "").strip()

    def error(self, key: str | None, reason: str) -> InputFileError:
        return InputFileError(self.path, reason, line=self.line, column=self.names.get(key or "", key))

    def decimal(self, key: str, *, positive: bool = False, default: Decimal | None = None) -> Decimal:
        raw = self.text(key).replace(",", "") if key in self.cells else ""
        if raw == "" or (default is not None and raw.lower() in ("nan", "n/a")):
            if default is not None:
                return default
            raise self.error(key, "empty cell where a number is needed")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise self.error(key, f"{raw!r} is not a number") from None
        if not value.is_finite():
            raise self.error(key, f"{raw!r} is not a finite number")
        if positive and value <= 0:
            raise self.error(key, f"{raw!r} must be greater than zero")
        return value

    def timestamp_ns(self, key: str, tz: tzinfo) -> int:
        """Unix seconds / milliseconds / nanoseconds, or ISO 8601 (naive times are in ``tz``)."""
        raw = self.text(key)
        if not raw:
            raise self.error(key, "empty cell where a time is needed")
        return parse_time_ns(raw, tz, lambda reason: self.error(key, reason))


def parse_time_ns(raw: str, tz: tzinfo, fail: Callable[[str], Exception]) -> int:
    """A time cell to UTC nanoseconds. ``fail(reason)`` builds the exception to raise."""
    if _NUMERIC_TIME.match(raw):
        whole = Decimal(raw)
        digits = len(raw.split(".")[0])
        scale = 10**9 if digits <= 11 else 10**6 if digits <= 14 else 10**3 if digits <= 17 else 1  # s ms us ns
        return int(whole * scale)
    text = raw.replace("/", "-")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{raw!r} is not a time (unix seconds or ISO 8601 such as 2024-01-02T14:30:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def _matches(key: str, spelling: str) -> bool:
    """``price *`` matches ``price usd`` (a currency suffix), never a percentage column."""
    if spelling.endswith("*"):
        return key.startswith(spelling[:-1]) and not key.endswith("%")
    return key == spelling


def decode(data: bytes, path: str) -> str:
    if len(data) > MAX_BYTES:
        raise InputFileError(path, f"larger than {MAX_BYTES // 2**20} MiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputFileError(path, f"not UTF-8 text (byte {exc.start})", line=line) from None


def rows(text: str, path: str, required: dict[str, tuple[str, ...]]) -> tuple[dict[str, str], Iterator[Row]]:
    """The header mapping (canonical name -> header key found) and the data rows.

    Args:
        required: canonical column name -> accepted header spellings (lower case), first wins.

    Raises:
        InputFileError: no header, or a required column is missing (named, with what was found).
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputFileError(path, "empty file: expected a header line") from None
    except csv.Error as exc:
        raise InputFileError(path, f"not CSV: {exc}", line=1) from None
    keys = [h.strip().lower() for h in header]
    names = {k: h.strip() for k, h in zip(keys, header, strict=True)}
    mapping: dict[str, str] = {}
    for canonical, spellings in required.items():
        found = next((k for s in spellings for k in keys if _matches(k, s)), None)
        if found is not None:
            mapping[canonical] = found
        elif spellings and not canonical.endswith("?"):
            raise InputFileError(
                path,
                f"no {canonical!r} column (accepted headers: {', '.join(spellings)}; found: {', '.join(header)})",
                line=1,
            )

    def generate() -> Iterator[Row]:
        try:
            for cells in reader:
                line = reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(keys):
                    raise InputFileError(path, f"{len(cells)} cells where the header has {len(keys)}", line=line)
                yield Row(path, line, dict(zip(keys, cells, strict=True)), names)
        except csv.Error as exc:
            raise InputFileError(path, f"not CSV: {exc}", line=reader.line_num) from None

    return mapping, generate()
