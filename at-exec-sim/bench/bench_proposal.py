"""exec-sim's proposal path in process: CPU per proposal from its arrival to its batch's bytes.

Run: ``.venv/bin/python at-exec-sim/bench/bench_proposal.py [--proposals 10000] [--base-src DIR] [--repeat 3]``
(from the repository root). Per proposal, ``time.process_time`` of ``engine.on_proposal`` and of
the encoding and subject of its outputs (what ``publish_many`` writes), over a stream of quotes on
ES with a 1-lot market order after every 4th (``bench_exec.stream``). With ``--base-src`` (another
checkout's ``at-exec-sim/src``, e.g. main's from ``git archive``), the same run in a second process
loading that ``at_exec_sim``, the two alternating ``--repeat`` times: the best of each, and the ratio.

Numbers, not assertions: speed targets are never tests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def proposal_path_us(proposals: int) -> tuple[float, float, float]:
    """(on_proposal, encode + subject, outputs per proposal): CPU microseconds per proposal."""
    sys.path.insert(0, str(HERE))
    import bench_exec

    from at_core import subjects
    from at_core.serialization import encode_event

    events, _ = bench_exec.stream(proposals * 4, 4)
    eng = bench_exec.built_engine()
    decide = encode = 0.0
    n = outputs = 0
    for ev in events:
        eng.clock.advance_to(ev.ts_event)
        if ev.event_type == "market_data":
            eng.on_market_data(ev)
            continue
        t0 = time.process_time()
        out = eng.on_proposal(ev)
        t1 = time.process_time()
        for o in out:
            encode_event(o)
            subjects.subject_for(o)
        encode += time.process_time() - t1
        decide += t1 - t0
        n += 1
        outputs += len(out)
    return decide / n * 1e6, encode / n * 1e6, outputs / n


def _child(src: str | None, proposals: int) -> tuple[float, float, float]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_proposal as b; print(*b.proposal_path_us({proposals}))"
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    decide, encode, per = (float(x) for x in out.split()[-3:])
    return decide, encode, per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--proposals", type=int, default=10_000)
    parser.add_argument("--base-src", default=None, help="another at-exec-sim/src to compare with, same run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ours: list[tuple[float, float, float]] = []
    base: list[tuple[float, float, float]] = []
    for _ in range(args.repeat):  # alternating: a neighbour's burst only ever makes a run slower
        ours.append(_child(None, args.proposals))
        if args.base_src:
            base.append(_child(args.base_src, args.proposals))
    best = min(ours, key=lambda r: r[0] + r[1])
    print(
        f"proposal path: CPU {best[0]:,.1f} us on_proposal + {best[1]:,.1f} us encode+subject of its "
        f"{best[2]:.1f} outputs = {best[0] + best[1]:,.1f} us per proposal ({args.proposals:,} proposals, best of {args.repeat})"
    )
    if base:
        b = min(base, key=lambda r: r[0] + r[1])
        print(
            f"  base {args.base_src}: {b[0]:,.1f} + {b[1]:,.1f} = {b[0] + b[1]:,.1f} us; "
            f"new / base {(best[0] + best[1]) / (b[0] + b[1]):.2f}x (on_proposal {best[0] / b[0]:.2f}x)"
        )


if __name__ == "__main__":
    main()
