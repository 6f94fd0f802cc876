"""Fixtures for the real-model tests: one local llama.cpp server for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.local_llm import LocalLlm, start_local_llm


@pytest.fixture(scope="session")
def local_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLlm]:
    """SmolLM2-135M behind llama_cpp.server on a free port (skipped without it, failed under CI)."""
    server = start_local_llm(tmp_path_factory.mktemp("llm"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_local_llm(tmp_path: Path) -> Iterator[LocalLlm]:
    """A server of its own: llama.cpp reuses the evaluated prefix of the previous prompt, so at
    temperature 0 an answer can still depend on what was asked before; a test that needs one
    exact answer starts from a freshly loaded model."""
    server = start_local_llm(tmp_path / "llm")
    try:
        yield server
    finally:
        server.stop()
