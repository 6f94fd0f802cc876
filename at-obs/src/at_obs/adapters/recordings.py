"""Reading a recording: a JSONL fixture, the audit store, or JetStream streams.

``SOURCE`` forms: ``path/to/session.jsonl``; ``sqlite:path`` or a path to an audit SQLite file;
``postgresql://...`` (the audit store); ``jetstream:`` (every at-core stream) or
``jetstream:AT_SIGNALS,AT_EXECUTION`` read from the NATS server given separately.
"""

from __future__ import annotations

from pathlib import Path

from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError

from at_core import subjects
from at_core.errors import DecodeError
from at_core.events import Event
from at_core.serialization import decode_event
from at_obs.adapters.audit_store import is_postgres_url, open_audit_store
from at_obs.adapters.nats_client import connect
from at_obs.errors import AuditStoreError, RecordingError

JETSTREAM_PREFIX = "jetstream:"


def source_kind(source: str) -> str:
    """``jsonl``, ``audit`` or ``jetstream``."""
    if source.startswith(JETSTREAM_PREFIX):
        return "jetstream"
    if is_postgres_url(source) or source.startswith("sqlite:"):
        return "audit"
    path = Path(source)
    if path.is_file() and path.read_bytes()[:16] == b"SQLite format 3\x00":
        return "audit"
    return "jsonl"


def load_jsonl(path: str) -> list[Event]:
    """Every event of a JSONL recording, in file order (blank lines ignored).

    Raises:
        RecordingError: the file cannot be read, is not UTF-8, or a line is not an event (named).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordingError(path, exc.strerror or str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise RecordingError(path, f"not UTF-8 text (byte {exc.start}): not a JSONL recording") from exc
    events = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(decode_event(line))
        except DecodeError as exc:
            raise RecordingError(path, f"line {number} is not an event: {exc}") from exc
    return events


def load_audit(location: str, correlation_id: str | None = None) -> list[Event]:
    """Events of the audit store in recording (``seq``) order, optionally one alert's only.

    Raises:
        RecordingError: the store does not exist or cannot be read, or the alert is not in it.
    """
    if not is_postgres_url(location):
        path = Path(location.removeprefix("sqlite:///").removeprefix("sqlite:"))
        if not path.is_file():  # opening would create an empty store and replay nothing
            raise RecordingError(location, "no such audit store file")
    try:
        store = open_audit_store(location)
    except AuditStoreError as exc:
        raise RecordingError(exc.location, exc.reason) from exc
    try:
        records = store.by_correlation(correlation_id) if correlation_id else list(store.iter_records())
        if correlation_id and not records:
            raise RecordingError(store.location, f"no events with correlation id {correlation_id}")
        return [decode_event(r.payload) for r in records]
    except AuditStoreError as exc:
        raise RecordingError(exc.location, exc.reason) from exc
    except DecodeError as exc:
        raise RecordingError(store.location, f"undecodable record: {exc}") from exc
    finally:
        store.close()


async def load_jetstream(
    source: str, nats_url: str, user: str | None = None, password: str | None = None
) -> list[Event]:
    """Every stored message of the named streams (all at-core streams by default), stream by stream.

    Raises:
        RecordingError: a named stream does not exist.
        NatsUnavailableError: the server cannot be reached.
    """
    names = [n for n in source.removeprefix(JETSTREAM_PREFIX).split(",") if n] or [s.name for s in subjects.STREAMS]
    nc = await connect(nats_url, user, password, name="at-replay-reader")
    events: list[Event] = []
    try:
        js = nc.jetstream()
        for name in names:
            try:
                info = await js.stream_info(name)
            except NotFoundError as exc:
                raise RecordingError(f"{JETSTREAM_PREFIX}{name}", "no such stream") from exc
            except NatsError as exc:  # JetStream disabled, no permission, timeout
                raise RecordingError(f"{JETSTREAM_PREFIX}{name}", f"{type(exc).__name__}: {exc}") from exc
            if not info.state.messages:
                continue  # an empty stream reports first_seq 0, which the server refuses to get
            for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
                try:
                    msg = await js.get_msg(name, seq)
                except NotFoundError:
                    continue  # deleted or aged out
                except NatsError as exc:
                    raise RecordingError(f"{JETSTREAM_PREFIX}{name}", f"message {seq}: {exc!r}") from exc
                try:
                    events.append(decode_event(msg.data or b""))
                except DecodeError:
                    continue  # not an at-core event: never replayed
    finally:
        await nc.close()
    return events
