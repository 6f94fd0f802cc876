"""The JetStream streams of ``subjects.STREAMS``: their configuration, checked or created at start."""

from __future__ import annotations

from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from at_core import subjects
from at_core.runtime.bus.errors import BusError
from at_core.runtime.logging import get_logger

log = get_logger("at_core.bus")


def stream_config(spec: subjects.StreamSpec, replicas: int = 1) -> StreamConfig:
    """The JetStream configuration of one stream spec."""
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        description=spec.description,
        storage=StorageType.FILE,
        max_age=float(spec.max_age_s),
        max_bytes=spec.max_bytes,
        max_msgs=spec.max_msgs,
        discard=DiscardPolicy.OLD,
        duplicate_window=float(spec.duplicate_window_s),
        num_replicas=replicas,
    )


def stream_differs(have: StreamConfig, want: StreamConfig) -> bool:
    """Whether the server's configuration differs from the spec's in anything the spec sets."""
    return (
        sorted(have.subjects or []) != sorted(want.subjects or [])
        or have.description != want.description
        or have.max_age != want.max_age
        or (have.max_bytes or -1) != want.max_bytes
        or (have.max_msgs or -1) != want.max_msgs
        or have.duplicate_window != want.duplicate_window
        or (have.num_replicas or 1) != (want.num_replicas or 1)
    )


async def ensure_streams(
    js: JetStreamContext, specs: Sequence[subjects.StreamSpec], replicas: int = 1, *, migrate: bool = False
) -> None:
    """Check the streams exist; create a missing one; with ``migrate``, update a changed one.

    Raises:
        BusError: a stream is missing and could not be created.
    """
    for spec in specs:
        config = stream_config(spec, replicas)
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except Exception as exc:
                raise BusError(
                    f"stream {spec.name} is missing and cannot be created here ({exc!r}): "
                    "run the provisioning step (at-core-provision)"
                ) from exc
            continue
        if migrate and stream_differs(info.config, config):
            await js.update_stream(config)
            log.info("stream_migrated", stream=spec.name)
