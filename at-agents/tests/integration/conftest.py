"""Fixtures for the real-model tests: one local llama.cpp server for the session."""

from __future__ import annotations

from collections.abc import Iterator

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
