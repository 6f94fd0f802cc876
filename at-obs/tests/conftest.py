"""Shared fixtures for at-obs tests: promtool, a throwaway PostgreSQL cluster, the recorded session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

OBS = Path(__file__).resolve().parents[1]
PROMETHEUS = OBS / "prometheus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SESSION = FIXTURES / "session.jsonl"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing(what: str, how: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true ({how})")
    pytest.skip(f"{what} not installed ({how})")


@pytest.fixture
def promtool() -> str:
    """promtool from Debian's prometheus package; under CI=true its absence fails, never skips."""
    path = shutil.which("promtool")
    if path is None:
        _missing("promtool", ".ci/run installs Debian's prometheus package")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[object]:
    """One PostgreSQL server for the session (Debian's binaries); absent under CI=true fails."""
    from tests.postgres_harness import PostgresCluster, find_pg_bin

    bin_dir = find_pg_bin()
    if bin_dir is None:
        _missing("PostgreSQL server binaries", ".ci/run installs Debian's postgresql package")
    assert bin_dir is not None
    cluster = PostgresCluster(bin_dir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: object) -> str:
    """A fresh, empty database on the session's cluster."""
    return postgres_cluster.new_database()  # type: ignore[attr-defined]
