"""The real local model for tests (see ``at_agents.adapters.llm.local_server``).

Without it a developer's run skips these tests and says how to get them; under ``CI=true`` a
missing server or model fails loudly instead (``make test`` installs both first).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from at_agents.adapters.llm.local_server import ALIAS, LocalLlm, missing
from at_agents.adapters.llm.local_server import start_local_llm as _start
from at_core.testing import free_port

__all__ = ["ALIAS", "LocalLlm", "require_local_model", "start_local_llm"]


def require_local_model() -> None:
    """Skip (fail under CI=true) naming what is missing."""
    gaps = missing()
    if gaps:
        message = "; ".join(gaps) + " (run: make llm-local-setup)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the real-model tests: {message}", pytrace=False)
        pytest.skip(message)


def start_local_llm(log_dir: Path) -> LocalLlm:
    require_local_model()
    port = free_port()
    return _start(port, log_dir / f"llama-server-{port}.log")
