"""CPU used by the stack's processes, read from /proc: what the benchmarks print per process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path


def process_groups(leaders: Mapping[str, int]) -> dict[str, list[int]]:
    """Every pid in each started process's group (the bash wrapper and the service it runs)."""
    out = {}
    for name, pid in leaders.items():
        found = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True, check=False)
        out[name] = [int(p) for p in found.stdout.split()]
    return out


def cpu_seconds(groups: Mapping[str, list[int]]) -> dict[str, float]:
    """user + system CPU seconds of each process group so far."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, group in groups.items():
        total = 0
        for pid in group:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            total += int(fields[11]) + int(fields[12])
        out[name] = total / tick
    return out
