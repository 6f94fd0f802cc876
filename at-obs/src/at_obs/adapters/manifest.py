"""The replay run manifest: what was replayed, with which code, seed and config, and what came out.

Nothing in it depends on the wall clock or the machine, so two replays of one recording with
the same code give byte-identical manifests.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

from at_core import __version__ as core_version
from at_core.events import AccountStateEvent, Event, RiskDecisionEvent
from at_core.serialization import stream_sha256
from at_obs import __version__ as obs_version
from at_obs.adapters.postgres_store import redact_url
from at_obs.domain.replay import canonical_outputs, output_hash


def code_version(cwd: Path | None = None) -> str:
    """``git describe --always --dirty`` of the checkout at-obs runs from, else ``unknown``."""
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            check=True,
            cwd=cwd or Path(__file__).resolve().parent,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def config_sha256(files: list[Path]) -> str | None:
    """SHA-256 over each file's name and content, in name order (None for no files)."""
    if not files:
        return None
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def rule_profiles(events: list[Event]) -> list[str]:
    """``profile@version`` of every risk decision, and profiles named by account states."""
    out = set()
    for e in events:
        if isinstance(e, RiskDecisionEvent) and e.profile_id:
            out.add(f"{e.profile_id}@{e.profile_version or 'unversioned'}")
        elif isinstance(e, AccountStateEvent) and e.profile_id:
            out.add(f"{e.profile_id}@{'unversioned'}")
    versioned = {p.split("@")[0] for p in out if not p.endswith("@unversioned")}
    return sorted(p for p in out if not (p.endswith("@unversioned") and p.split("@")[0] in versioned))


def build_manifest(
    source: str, inputs: list[Event], outputs: list[Event], *, seed: int, config_files: list[Path]
) -> dict[str, Any]:
    return {
        "recording": redact_url(source),
        "inputs": len(inputs),
        "inputs_sha256": stream_sha256(inputs),
        "outputs": len(canonical_outputs(outputs)),
        "output_sha256": output_hash(outputs),
        "seed": seed,
        "code_version": code_version(),
        "at_core_version": core_version,
        "at_obs_version": obs_version,
        "config_sha256": config_sha256(config_files),
        "rule_profiles": rule_profiles(outputs),
    }
