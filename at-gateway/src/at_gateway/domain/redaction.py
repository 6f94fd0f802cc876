"""Secrets out of everything the gateway keeps or prints: bodies, paths, messages. Pure, linear time.

Every pattern here runs in time linear in its input (possessive quantifiers, no nested
repetition), so a hostile body costs what its size costs: a 1 MiB body is redacted in
milliseconds, not minutes. Known secrets are replaced wherever they appear literally; a text in
which a secret survives only in an escaped form (``\\u0073ecret``, ``%73ecret``) is withheld
whole rather than kept, because there is no safe way to keep part of it.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable
from typing import Any

from at_gateway.domain.json_shape import JsonShapeError, check_json_shape

MASK = "***"
WITHHELD = "[withheld: it held a secret in an escaped form]"
SECRET_FIELDS = ("passphrase", "secret", "token")
MAX_KEPT_CHARS = 8192

_NAMES = "|".join(SECRET_FIELDS)
# "passphrase" : "any \" escaped string": possessive, so no backtracking on a hostile body
_JSON_PAIR = re.compile(rf'("(?:{_NAMES})"\s*+:\s*+)"(?:[^"\\]|\\.)*+"', re.IGNORECASE)
_NAME = re.compile(_NAMES)
_LINE_SPACE = " \t\r\f\v"  # white space that cannot cross a line break


def _mask_part(part: str) -> str:
    key, sep, _ = part.partition("=")
    return f"{key}{sep}{MASK}" if sep and key.strip(_LINE_SPACE).lower() in SECRET_FIELDS else part


def _mask_line(line: str) -> str:
    if "=" not in line or not _NAME.search(line.lower()):
        return line
    return ";".join(_mask_part(p) for p in line.split(";"))


def _mask_key_values(text: str) -> str:
    """``passphrase=...`` lines (and ``;``-separated parts) with the value masked: plain splits, one
    pass, so a body of 1 MiB of newlines costs one split, never one scan per newline."""
    return "\n".join([_mask_line(line) for line in text.split("\n")])


class Redactor:
    """Replaces a fixed set of secrets (webhook secrets, API keys, passwords) and secret fields."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole; in any letter case,
        # because a message may echo an input upper-cased (a ticker: "cannot normalise 'E2E-SECRET'").
        # re.IGNORECASE over a thousand secrets is 15x slower than a plain alternation, so ASCII text
        # (nearly all of it) is matched lower-cased against the lower-cased secrets instead.
        known = sorted({s.lower() for s in secrets if s}, key=len, reverse=True)
        alternation = "|".join(re.escape(s) for s in known)
        self._lower = re.compile(alternation) if known else None
        self._folded = re.compile(alternation, re.IGNORECASE) if known else None
        # A text shorter than every secret holds none, plain or escaped (an escape only lengthens it):
        # most fields and log values (a ticker, an interval, an id) are, and skip the patterns.
        self._shortest = min((len(k) for k in known), default=0)

    def _mask(self, value: str) -> str:
        """``value`` with every known secret, in any letter case, masked."""
        assert self._lower is not None and self._folded is not None
        if not value.isascii():  # lower() may change the length: no span mapping, the slow pattern
            return self._folded.sub(MASK, value)
        pieces, last = [], 0
        for match in self._lower.finditer(value.lower()):
            pieces += (value[last : match.start()], MASK)
            last = match.end()
        return "".join([*pieces, value[last:]]) if pieces else value

    def _found(self, value: str) -> bool:
        """Whether a known secret appears in ``value``, in any letter case."""
        assert self._lower is not None and self._folded is not None
        if value.isascii():
            return self._lower.search(value.lower()) is not None
        return self._folded.search(value) is not None

    def text(self, value: str) -> str:
        """``value`` with every known secret masked; withheld whole if one hides in an escaped form."""
        if self._lower is None or len(value) < self._shortest:
            return value
        out = self._mask(value)
        return WITHHELD if self._hidden(out) else out

    def holds_none(self, texts: Iterable[str]) -> bool:
        """True if no text holds a known secret, plain or escaped: one pass over them all (a log
        line's values), so :meth:`text` would return each unchanged. False means: ask :meth:`text`."""
        if self._lower is None:
            return True
        joined = "\n".join([t for t in texts if len(t) >= self._shortest])
        if not joined:
            return True
        if "\\" in joined or "%" in joined:  # an escaped form is text()'s to judge, value by value
            return False
        return not self._found(joined)

    def body(self, raw: bytes, limit: int = MAX_KEPT_CHARS) -> str:
        """A request body as text for audit and dead letters: secret fields and secrets masked.

        JSON keeps its text (only the secret values change) unless a secret survives in a form the
        text pass cannot see (an escaped key, a number); then it is re-serialised from the redacted
        structure. The result is cut to ``limit`` characters after redaction, never before.
        """
        text = raw.decode("utf-8", errors="replace")
        out = self._secret_fields(text)
        if self._lower is not None:
            out = self._mask(out)
        # a JSON text can hide a secret from the passes above only behind an escape (\u0073)
        parsed = _parse_json(out) if "\\" in out else _NOT_JSON
        if parsed is not _NOT_JSON and self._leaks(parsed):
            out = json.dumps(self._scrub(parsed), ensure_ascii=False, separators=(",", ":"), default=str)
        if self._hidden(out):
            return WITHHELD
        return out[:limit]

    @staticmethod
    def _secret_fields(text: str) -> str:
        lower = text.lower()
        if not _NAME.search(lower):
            return text
        text = _JSON_PAIR.sub(rf'\1"{MASK}"', text)
        return _mask_key_values(text)

    def _hidden(self, text: str) -> bool:
        """A secret readable once JSON or URL escapes are undone."""
        if self._lower is None or ("\\" not in text and "%" not in text):
            return False
        # unicode_escape undoes \uXXXX, \n, \" and the like in C (non-ASCII survives via backslashreplace)
        decoded = _decode_escapes(text.encode("latin-1", "backslashreplace"))
        if self._found(decoded):
            return True
        if not _PERCENT.search(decoded):
            return False
        # %XX as \xXX, decoded in C too (unquote is a Python loop: seconds on a body of '%')
        percent = decoded.replace("\\", "\\\\").replace("%", "\\x").encode("latin-1", "backslashreplace")
        return bool(self._found(_decode_escapes(percent)))

    def _leaks(self, value: Any) -> bool:
        if isinstance(value, dict):
            return any(
                (str(k).lower() in SECRET_FIELDS and v != MASK) or self._leaks(str(k)) or self._leaks(v)
                for k, v in value.items()
            )
        if isinstance(value, list):
            return any(self._leaks(v) for v in value)
        if self._lower is None:
            return False
        return bool(self._found(str(value))) if value is not None else False

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                self.text(str(k)): (MASK if str(k).lower() in SECRET_FIELDS else self._scrub(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._scrub(v) for v in value]
        if isinstance(value, str) or (self._lower is not None and self._found(str(value))):
            return self.text(str(value))
        return value


def _decode_escapes(data: bytes) -> str:
    with warnings.catch_warnings():  # "invalid escape sequence" is expected here: hostile input
        warnings.simplefilter("ignore", DeprecationWarning)
        return data.decode("unicode_escape", "ignore")


_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_NOT_JSON = object()


def _parse_json(text: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return _NOT_JSON
    try:
        check_json_shape(stripped.encode())
        return json.loads(stripped, parse_float=str, parse_int=str, parse_constant=str)
    except (JsonShapeError, ValueError):
        return _NOT_JSON
