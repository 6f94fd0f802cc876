"""A newcomer's first hour, scripted with only the documented commands (README, "Your first hour").

1. Every console script answers ``--help``, refuses an unknown option, and fails clearly on a
   missing file (``at-audit-verify --help`` creates no file).
2. ``make up`` (``tools/demo.py --serve``) on ports chosen in the environment, recording on the
   event clock: its banner gives the webhook URL with the real dev secret, the admin credentials
   and the pids; an alert from the README's template, posted there, gives a paper fill.
3. ``kill -9`` of the recorder: the supervisor names it, its pid, the signal and its last log
   lines, and exits non-zero.
4. A fresh stack started the same way, ``at-replay run <recording> --verify`` into it, as the README
   says: every recorded output reproduced byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import nats
import pytest

from at_core.testing import free_port
from at_obs.adapters.quiescence import wait_quiescent
from e2e.conftest import ROOT
from tools import stack as stack_mod
from tools.demo import STRATEGY_TEMPLATE

pytestmark = [pytest.mark.stack]

BIN = Path(sys.executable).parent
#: Every console script of the five packages.
SCRIPTS = (
    "at-gateway",
    "at-agents",
    "at-exec-sim",
    "at-recorder",
    "at-replay",
    "at-audit-verify",
    "at-alertmanager-config",
    "at-backtest",
    "at-core-schemas",
    "at-core-provision",
)
#: The README's settings for a session `at-replay --verify` can reproduce: services on the event clock.
RECORD_ENV = {
    "AT_AGENTS_REPLAY_MODE": "true",
    "AT_EXEC_SIM_REPLAY_MODE": "true",
    "AT_AGENTS_SEED": "7",
    "AT_EXEC_SIM_SEED": "7",
}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AT_")} | {"COLUMNS": "200"}
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=180, check=False)


def test_every_console_script_helps_refuses_unknown_options_and_names_a_missing_file(tmp_path: Path) -> None:
    declared = {
        line.split("=")[0].strip()
        for pkg in ("at-core", *(s.package for s in stack_mod.SERVICE_TABLE))
        for line in (ROOT / pkg / "pyproject.toml")
        .read_text()
        .partition("[project.scripts]")[2]
        .split("\n[")[0]
        .splitlines()
        if "=" in line
    }
    assert declared == set(SCRIPTS), "a console script is missing from this walk"
    with ThreadPoolExecutor(max_workers=4) as pool:  # each a Python start-up: run them side by side
        helped = dict(
            zip(SCRIPTS, pool.map(lambda s: _run(str(BIN / s), "--help", cwd=tmp_path), SCRIPTS), strict=True)
        )
        refused = dict(
            zip(SCRIPTS, pool.map(lambda s: _run(str(BIN / s), "--no-such-option", cwd=tmp_path), SCRIPTS), strict=True)
        )
    for script in SCRIPTS:
        out = helped[script]
        assert out.returncode == 0 and "usage" in out.stdout.lower(), (script, out.stdout, out.stderr)
        bad = refused[script]
        assert bad.returncode == 2, (script, bad.returncode, bad.stdout, bad.stderr)
        assert "no-such-option" in bad.stdout + bad.stderr, script
        assert "Traceback" not in bad.stdout + bad.stderr, script
    assert list(tmp_path.iterdir()) == [], "a --help created files"
    missing = _run(str(BIN / "at-audit-verify"), "no/such/audit.sqlite3", cwd=tmp_path)
    assert missing.returncode == 2 and "no such file" in missing.stderr and not (tmp_path / "no").exists()
    replay = _run(str(BIN / "at-replay"), "run", "no/such/session.jsonl", cwd=tmp_path)
    assert replay.returncode == 2 and "Traceback" not in replay.stdout + replay.stderr, replay.stdout


class Up:
    """`make up` as a process (tools/demo.py --serve), its output read line by line."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.ports = {service: free_port() for service in stack_mod.SERVICES}
        self.nats_port, self.monitor_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AT_")} | RECORD_ENV
        env |= {"COLUMNS": "400", "PYTHONUNBUFFERED": "1"}
        env |= {f"{stack_mod.PREFIX[s]}PORT": str(p) for s, p in self.ports.items()}
        env |= {"AT_STACK_NATS_PORT": str(self.nats_port), "AT_STACK_NATS_MONITOR_PORT": str(self.monitor_port)}
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "demo.py"), "--serve", "--run-dir", str(run_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.lines: list[str] = []

    def read_until(self, marker: str, timeout: float = 90) -> str:
        """Output up to the line holding ``marker`` (the process exiting first fails)."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if marker in line:
                return "\n".join(self.lines)
        raise AssertionError(f"no {marker!r} from make up:\n" + "\n".join(self.lines))

    def rest(self, timeout: float = 60) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, "\n".join(self.lines) + "\n" + out

    def stop(self) -> str:
        """Ctrl-C, as an operator would; what `make up` said (SIGKILL after 60 s without an exit)."""
        out = ""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                out, _ = self.proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate()
        return "\n".join(self.lines) + "\n" + (out or "")


async def _idle(nats_url: str, password: str) -> None:
    nc = await nats.connect(nats_url, user="admin", password=password)
    try:
        assert not await wait_quiescent(nc.jetstream(), 20)
    finally:
        await nc.close()


def _fill_template(template: dict, values: dict[str, str]) -> dict:
    """TradingView's substitution of ``{{placeholders}}`` in the alert message."""
    text = json.dumps(template)
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    assert "{{" not in text, text
    return json.loads(text)


async def test_a_newcomer_trades_on_paper_sees_a_death_reported_and_verifies_a_replay(tmp_path: Path) -> None:
    up = Up(tmp_path / "up")
    try:
        banner = up.read_until("Ctrl-C stops everything")
        gateway = f"http://127.0.0.1:{up.ports['gateway']}"
        url = re.search(r"Webhook URL \(paper account paper-1\): (\S+)", banner)
        assert url and url.group(1) == f"{gateway}/webhooks/tradingview/dev-webhook-secret", banner
        assert "WARNING: dev defaults" in banner and "{{strategy.order.action}}" in banner
        admin_file = re.search(r"NATS admin \(for at-replay\): user admin, password in (\S+)", banner)
        assert admin_file, banner
        password = (await asyncio.to_thread(Path(admin_file.group(1)).read_text)).strip()
        pids = {n: int(p) for n, p in re.findall(r"(\w+) pid (\d+)", banner)}
        nats_url = f"nats://127.0.0.1:{up.nats_port}"

        alert = _fill_template(
            STRATEGY_TEMPLATE,
            {
                "ticker": "MES1!",
                "exchange": "CME_MINI",
                "interval": "5",
                "close": "6012.25",
                "timenow": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "strategy.order.id": "Long",
                "strategy.order.action": "buy",
                "strategy.order.contracts": "1",
                "strategy.order.price": "6012.25",
                "strategy.position_size": "1",
                "strategy.market_position": "long",
                "strategy.prev_market_position": "flat",
            },
        )
        async with httpx.AsyncClient(base_url=gateway, timeout=10) as http:
            # the alert alone: no quote was ever sent, its close is the paper account's mark
            accepted = await http.post(url.group(1), content=json.dumps(alert), headers={"content-type": "text/plain"})
            assert accepted.status_code == 202, accepted.text
            correlation = accepted.json()["correlation_id"]
            deadline = time.monotonic() + 30
            async with httpx.AsyncClient(timeout=5) as reads:
                while True:
                    story = (
                        await reads.get(
                            f"http://127.0.0.1:{up.ports['obs']}/audit", params={"correlation_id": correlation}
                        )
                    ).json()
                    types = [e["event_type"] for e in story] if isinstance(story, list) else []  # 404: not yet
                    if "fill" in types and "position" in types:
                        break
                    assert time.monotonic() < deadline, f"no paper fill recorded: {types}"
                    await asyncio.sleep(0.2)  # the recorder's store over HTTP: no message to await
                fills = (await reads.get(f"http://127.0.0.1:{up.ports['exec_sim']}/fills")).json()
            assert any(f["correlation_id"] == correlation and f["account_id"] == "paper-1" for f in fills), fills
            await _idle(nats_url, password)

        os.kill(pids["recorder"], signal.SIGKILL)
        code, out = up.rest()
        assert code == 1, out
        assert f"recorder (pid {pids['recorder']}) exited: killed by SIGKILL" in out, out
        assert "STACK DOWN" in out and "last lines of" in out
    finally:
        up.stop()

    target = Up(tmp_path / "replay")
    try:
        banner = target.read_until("Ctrl-C stops everything")
        replay = await asyncio.create_subprocess_exec(
            str(BIN / "at-replay"),
            "run",
            str(tmp_path / "up" / "audit.sqlite3"),
            "--nats",
            f"nats://127.0.0.1:{target.nats_port}",
            "--user",
            "admin",
            "--password-file",
            str(tmp_path / "replay" / "admin.password"),
            "--verify",
            "--seed",
            "7",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("AT_")} | {"COLUMNS": "200"},
        )
        out, _ = await replay.communicate()
        assert replay.returncode == 0, out.decode()
        assert "identical" in out.decode()
    finally:
        said = target.stop()
    assert target.proc.returncode == 130, said[-6000:]
