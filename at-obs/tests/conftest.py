"""Shared helpers for at-obs tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

OBS = Path(__file__).resolve().parents[1]
PROMETHEUS = OBS / "prometheus"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def promtool() -> str:
    """promtool from Debian's prometheus package; under CI=true its absence fails, never skips."""
    path = shutil.which("promtool")
    if path is None:
        if IN_CI:
            pytest.fail("promtool is required under CI=true (.ci/run installs Debian's prometheus package)")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return path
