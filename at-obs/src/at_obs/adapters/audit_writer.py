"""The audit store's one writer: a thread that appends the consumers' batches in group commits.

Every stream has its own consumer, and at a steady trickle each fetch brings one to three
events: one transaction (and, with SQLite's ``synchronous=FULL``, one fsync) per fetch was
most of the recorder's CPU. Here the batches handed over while a transaction runs, or within
``linger_s`` of the first one, are appended together in one transaction, in the order they
came (each stream's own order is kept: its consumer waits for its batch before fetching the
next). A caller's ``append`` returns only once its batch is committed; a failed transaction
fails every batch in it (each is then naked and redelivered, as before).

``on_recorded`` hears every committed transaction's records, in ``seq`` order, on the event
loop, before any of its callers resumes: the console's live feed (what is in the record, once,
with no second subscription to the bus and no second decode of what the consumers fetched).

One long-lived thread instead of ``asyncio.to_thread`` per batch: the store's calls block
(an fsync), and a thread pool hop per batch cost as much as the SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from at_core.events import Event
from at_core.runtime.logging import get_logger
from at_obs.adapters.audit_store import AuditStore
from at_obs.domain.chain import AuditRecord

log = get_logger("at_obs")

#: How long ``stop`` waits for the thread to finish what it holds.
STOP_TIMEOUT_S = 10.0


@dataclass(slots=True)
class _Batch:
    items: Sequence[tuple[Event, str]]
    future: asyncio.Future[list[AuditRecord]]
    loop: asyncio.AbstractEventLoop


#: Told each transaction's outcome, in the writer's thread: (records written, seconds) or the error.
OnCommit = Callable[[list[AuditRecord], float], None]
OnError = Callable[[Exception], None]
#: Told each committed transaction's records (none skipped, ``seq`` order), on the event loop.
OnRecorded = Callable[[list[AuditRecord]], None]


_Results = list[tuple[asyncio.Future[list[AuditRecord]], list[AuditRecord] | BaseException]]


def _settle(results: _Results, recorded: list[AuditRecord], on_recorded: OnRecorded | None) -> None:
    """Tell ``on_recorded`` the transaction's records, then resolve its futures (on their loop's thread)."""
    if on_recorded is not None and recorded:
        try:
            on_recorded(recorded)
        except Exception as exc:  # a listener's bug must never leave a caller waiting
            log.error("audit_writer_listener_failed", error=repr(exc), exc_info=exc)
    for future, result in results:
        if future.done():  # the consumer was stopped meanwhile: its batch comes again
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


class AuditWriter:
    """Appends batches to ``store`` from one thread, several batches per transaction."""

    def __init__(
        self,
        store: AuditStore,
        *,
        linger_s: float = 0.0,
        max_events: int = 1024,
        on_commit: OnCommit | None = None,
        on_error: OnError | None = None,
        on_recorded: OnRecorded | None = None,
    ) -> None:
        self.store = store
        self.linger_s = linger_s
        self.max_events = max_events
        self._on_commit = on_commit
        self._on_error = on_error
        self._on_recorded = on_recorded
        self._queue: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()

    async def append(self, items: Sequence[tuple[Event, str]]) -> list[AuditRecord]:
        """Append ``items`` (in order, redeliveries skipped) and return once they are committed.

        Returns:
            The records written for these items (fewer when some were already recorded).

        Raises:
            AuditStoreError: the transaction holding them failed; nothing of it was written.
        """
        self.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[AuditRecord]] = loop.create_future()
        self._queue.put(_Batch(items, future, loop))
        return await future

    def stop(self) -> None:
        """Finish the batches already handed over, then end the thread (bounded)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(None)
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            log.error("audit_writer_did_not_stop")

    def _gather(self, first: _Batch) -> tuple[list[_Batch], bool]:
        """``first`` and what comes within the linger (or is already queued), up to ``max_events``."""
        group = [first]
        events = len(first.items)
        deadline = time.monotonic() + self.linger_s
        while events < self.max_events:
            remaining = deadline - time.monotonic()
            try:
                batch = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if batch is None:
                return group, True
            group.append(batch)
            events += len(batch.items)
        return group, False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            group, stopping = self._gather(first)
            self._commit(group)

    @staticmethod
    def _tell(callback: Callable[..., None] | None, *args: object) -> None:
        """Run a metrics callback; its failure must never end the thread (every caller would hang)."""
        if callback is None:
            return
        try:
            callback(*args)
        except Exception as exc:
            log.error("audit_writer_callback_failed", error=repr(exc), exc_info=exc)

    def _commit(self, group: list[_Batch]) -> None:
        items = [item for batch in group for item in batch.items]
        started = time.perf_counter()
        outcome: list[AuditRecord] | BaseException
        try:
            outcome = self.store.append_many(items)
        except Exception as exc:  # AuditStoreError, or a bug: every caller gets it, none is acked
            outcome = exc
            self._tell(self._on_error, exc)
        else:
            self._tell(self._on_commit, outcome, time.perf_counter() - started)
        by_loop: dict[asyncio.AbstractEventLoop, _Results] = {}
        written = {r.event_id: r for r in outcome} if isinstance(outcome, list) else {}
        for batch in group:
            result: list[AuditRecord] | BaseException
            if isinstance(outcome, BaseException):
                result = outcome
            else:  # a record belongs to the first batch that carried its event
                result = [written.pop(e.event_id) for e, _ in batch.items if e.event_id in written]
            by_loop.setdefault(batch.loop, []).append((batch.future, result))
        recorded = outcome if isinstance(outcome, list) else []
        for loop, results in by_loop.items():  # the listener hears it once, on the first batch's loop
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these any more
                loop.call_soon_threadsafe(_settle, results, recorded, self._on_recorded)  # one wake-up per transaction
            recorded = []
