"""Keep every CPU polling instead of halting while it has nothing to run (opt-in, for latency).

On a virtual machine an idle vCPU halts, and waking it for the next message costs a trip
through the hypervisor. An alert crosses three processes and nats-server between them, so it
pays that wake-up at every hop: measured here (``make bench-e2e`` prints the floor), a message
from one process to another takes about 0.8 ms when the CPUs were idle, against 0.13 ms within
one awake process. The kernel's own cures are boot options (``idle=poll``) or the haltpoll
driver's ``guest_halt_poll_ns`` (an operator's, machine-wide settings). This is the
user-space equivalent: one spinning process per CPU at the ``SCHED_IDLE`` policy, which the
scheduler runs only when nothing else wants the CPU and preempts the moment anything does, so
the CPU never halts and the services lose no CPU time to it.

The price: every CPU shows 100 % busy, forever; on a cloud VM that is billed and heated power,
and on a shared host it takes cycles from neighbours. It is off unless asked for
(``AT_STACK_IDLE_POLL=true``, or ``tools/bench_e2e.py --idle-poll``); the RUNBOOK says when to
use it. Run: ``python tools/idle_poll.py`` (stops on SIGTERM with its children).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys


def spin(cpu: int) -> None:
    """Poll on ``cpu`` at the lowest scheduling class until killed."""
    os.sched_setaffinity(0, {cpu})
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    while True:
        pass


def main() -> int:
    cpus = sorted(os.sched_getaffinity(0))
    children = []
    for cpu in cpus:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            spin(cpu)
        children.append(pid)

    def stop(*_: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"idle_poll: polling on CPUs {cpus} at SCHED_IDLE", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
