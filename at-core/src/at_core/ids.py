"""Event ids: ULIDs (time-sortable, 26 chars of Crockford base32).

Ids are made from an injected clock and RNG, so a replay with the same seed and the
same event timestamps makes the same ids. ``derive_id`` makes an id from a parent id and
a purpose, so a redelivered input yields the same output id (idempotency).
"""

from __future__ import annotations

import hashlib
import random

from at_core.clock import NANOS_PER_MILLI, Clock

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}
ULID_LENGTH = 26


#: Two base32 digits per entry (10 bits): an id is 13 lookups, not 26 (ids are made for every
#: event on the hot path; encoding was a tenth of exec-sim's time per mark).
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
#: Crockford base32 digits (either case) -> the digits ``int(s, 32)`` reads.
_TO_INT32 = str.maketrans(
    {c: "0123456789abcdefghijklmnopqrstuv"[i] for c, i in _DECODE.items()}
    | {c.lower(): "0123456789abcdefghijklmnopqrstuv"[i] for c, i in _DECODE.items()}
)
#: Deletes every Crockford digit: what is left of a string is what is not one.
_DROP_DIGITS = str.maketrans(dict.fromkeys(_ALPHABET + _ALPHABET.lower()))


#: The last timestamp's 10 digits (the ULID's time half): every id derived for one input (an
#: account state per holder of a quote's instrument) has the same time, so it is encoded once.
#: One tuple, replaced whole: a reader sees a matching (ts_ms, digits) pair.
_last_time_digits: tuple[int, str] = (-1, "")


def _time_digits(ts_ms: int) -> str:
    """``ts_ms`` (< 2**48) as the ULID's first 10 digits (5 pairs, most significant first)."""
    global _last_time_digits
    last = _last_time_digits
    if last[0] == ts_ms:
        return last[1]
    digits = _PAIRS[ts_ms >> 40] + _PAIRS[(ts_ms >> 30) & 1023] + _PAIRS[(ts_ms >> 20) & 1023]
    digits += _PAIRS[(ts_ms >> 10) & 1023] + _PAIRS[ts_ms & 1023]
    _last_time_digits = (ts_ms, digits)
    return digits


def ulid_from_parts(ts_ms: int, randomness: int) -> str:
    """Build a ULID from a millisecond timestamp (48 bits) and 80 random bits."""
    if not 0 <= ts_ms < 2**48:
        raise ValueError("ULID timestamp out of range")
    r, p = randomness & (2**80 - 1), _PAIRS
    # the random half's 8 pairs unrolled: a comprehension over the shifts costs twice as much
    return _time_digits(ts_ms) + "".join(
        (
            p[r >> 70],
            p[(r >> 60) & 1023],
            p[(r >> 50) & 1023],
            p[(r >> 40) & 1023],
            p[(r >> 30) & 1023],
            p[(r >> 20) & 1023],
            p[(r >> 10) & 1023],
            p[r & 1023],
        )
    )


def ulid_timestamp_ms(ulid: str) -> int:
    """Return the millisecond timestamp encoded in a ULID (its first 10 digits).

    Raises:
        ValueError: ``ulid`` is not 26 Crockford base32 digits.
    """
    if len(ulid) != ULID_LENGTH or ulid.translate(_DROP_DIGITS):
        raise ValueError(f"not a ULID: {ulid!r}")
    return int(ulid[:10].translate(_TO_INT32), 32)


def is_ulid(value: str) -> bool:
    return len(value) == ULID_LENGTH and all(c in _DECODE for c in value.upper()) and value[0] in "01234567"


class IdGenerator:
    """Makes ULIDs from an injected clock and a seeded RNG.

    Within one millisecond ids are strictly increasing (monotonic ULID), so sorting by
    id sorts by creation.
    """

    def __init__(self, clock: Clock, rng: random.Random | None = None) -> None:
        self._clock = clock
        self._rng = rng or random.Random()
        self._last_ms = -1
        self._last_rand = 0

    def new(self) -> str:
        ts_ms = self._clock.now_ns() // NANOS_PER_MILLI
        if ts_ms == self._last_ms:
            self._last_rand = (self._last_rand + 1) & (2**80 - 1)
        else:
            self._last_ms = ts_ms
            self._last_rand = self._rng.getrandbits(80)
        return ulid_from_parts(ts_ms, self._last_rand)


def derive_id(parent_id: str, purpose: str, ts_ns: int | None = None) -> str:
    """Derive a stable ULID from a parent id and a purpose.

    The same (parent, purpose) always gives the same id. The time part is ``ts_ns`` when
    given, else the parent's, so derived ids still sort by time.
    """
    ts_ms = ts_ns // NANOS_PER_MILLI if ts_ns is not None else ulid_timestamp_ms(parent_id)
    digest = hashlib.sha256(f"{parent_id}\x1f{purpose}".encode()).digest()
    return ulid_from_parts(ts_ms, int.from_bytes(digest[:10], "big"))
