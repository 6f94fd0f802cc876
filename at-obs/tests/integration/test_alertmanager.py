"""Alertmanager: the shipped config passes amtool, and a real Prometheus rule reaches a loopback webhook.

Debian's prometheus-alertmanager and prometheus; under CI=true their absence fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import OBS, _missing

from at_core.testing import free_port
from at_obs.domain.alertmanager_config import render_alertmanager_config

pytestmark = pytest.mark.integration
SHIPPED = OBS / "alertmanager" / "alertmanager.yml"


def _tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    _missing(names[0], ".ci/run installs Debian's prometheus-alertmanager and prometheus packages")
    raise AssertionError("unreachable")


@pytest.fixture
def amtool() -> str:
    return _tool("amtool")


class Webhook:
    """Alertmanager's webhook receiver on loopback: keeps every notification posted."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.posts.append(json.loads(body))
                outer.arrived.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} process exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    try:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def alerting(tmp_path: Path) -> Iterator[tuple[Webhook, int]]:
    """A real Alertmanager (webhook receiver, 1 s grouping) and a real Prometheus whose rules always fire."""
    alertmanager = _tool("prometheus-alertmanager", "alertmanager")
    prometheus = _tool("prometheus")
    hook = Webhook()
    am_port, prom_port = free_port(), free_port()
    (tmp_path / "alertmanager.yml").write_text(
        render_alertmanager_config([hook.url], group_wait="1s", group_interval="1s", repeat_interval="1h")
    )
    (tmp_path / "rules.yml").write_text(
        """groups:
  - name: test
    interval: 1s
    rules:
      - alert: ServiceDown
        expr: vector(1)
        labels: {severity: critical, job: exec_sim}
        annotations: {summary: "exec_sim is down"}
      - alert: JetStreamConsumerLag
        expr: vector(1)
        labels: {severity: warning, job: exec_sim}
      - alert: SlippageHigh
        expr: vector(1)
        labels: {severity: warning, job: agents}
      - alert: BrokerTokenFailures
        expr: vector(1)
        labels: {severity: critical, job: exec_sim_live, venue: topstepx}
      - alert: BrokerRequestErrors
        expr: vector(1)
        labels: {severity: warning, job: exec_sim_live, venue: topstepx, kind: http_5xx}
      - alert: BrokerChecksFailing
        expr: vector(1)
        labels: {severity: warning, job: exec_sim_live, venue: tradovate}
"""
    )
    (tmp_path / "prometheus.yml").write_text(
        f"""global: {{evaluation_interval: 1s, scrape_interval: 1s}}
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["127.0.0.1:{am_port}"]}}]
rule_files: [rules.yml]
"""
    )
    am = _start(
        [
            alertmanager,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ],
        tmp_path / "alertmanager.log",
    )
    prom = _start(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            # Alerts fired before Prometheus found Alertmanager are dropped; resend each second, not minute.
            "--rules.alert.resend-delay=1s",
        ],
        tmp_path / "prometheus.log",
    )
    try:
        _wait_http(f"http://127.0.0.1:{am_port}/-/ready", am, tmp_path / "alertmanager.log")
        _wait_http(f"http://127.0.0.1:{prom_port}/-/ready", prom, tmp_path / "prometheus.log")
        yield hook, am_port
    finally:
        _stop(prom)
        _stop(am)
        hook.close()


def test_the_shipped_alertmanager_config_passes_amtool(amtool: str) -> None:
    out = subprocess.run([amtool, "check-config", str(SHIPPED)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "4 inhibit rules" in out.stdout


def test_the_shipped_config_is_what_the_renderer_writes_with_no_receivers() -> None:
    assert SHIPPED.read_text() == render_alertmanager_config(), "run: at-alertmanager-config --out " + str(SHIPPED)


def test_a_config_with_receivers_from_settings_passes_amtool(amtool: str, tmp_path: Path) -> None:
    path = tmp_path / "am.yml"
    path.write_text(render_alertmanager_config(["http://127.0.0.1:1/hook"], ["http://127.0.0.1:2/pager"]))
    out = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_firing_prometheus_rule_is_delivered_to_the_webhook_through_alertmanager(
    alerting: tuple[Webhook, int],
) -> None:
    hook, _ = alerting
    deadline = time.monotonic() + 60
    names: set[str] = set()
    while not {"ServiceDown", "SlippageHigh"} <= names:
        assert hook.arrived.wait(max(0.01, deadline - time.monotonic())), f"only {names} arrived"
        hook.arrived.clear()
        for post in list(hook.posts):
            names |= {a["labels"]["alertname"] for a in post["alerts"] if a["status"] == "firing"}
    down = next(p for p in hook.posts if p["commonLabels"].get("alertname") == "ServiceDown")
    assert down["status"] == "firing" and down["commonAnnotations"]["summary"] == "exec_sim is down"


def test_a_service_that_is_down_inhibits_its_lesser_alerts(alerting: tuple[Webhook, int]) -> None:
    _, port = alerting
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/alerts", timeout=2) as resp:
            alerts = {a["labels"]["alertname"]: a for a in json.loads(resp.read())}
        lag = alerts.get("JetStreamConsumerLag")
        if lag is not None and "ServiceDown" in alerts:
            break
        assert time.monotonic() < deadline, f"alerts never arrived: {sorted(alerts)}"
        time.sleep(0.2)
    assert lag["status"]["state"] == "suppressed"
    assert lag["status"]["inhibitedBy"], "inhibited by ServiceDown of the same job"
    assert alerts["SlippageHigh"]["status"]["state"] == "active", "another job's alert is not inhibited"


def test_a_venue_refusing_its_token_inhibits_that_venues_request_alerts_only(alerting: tuple[Webhook, int]) -> None:
    _, port = alerting
    wanted = {"BrokerTokenFailures", "BrokerRequestErrors", "BrokerChecksFailing"}
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/alerts", timeout=2) as resp:
            alerts = {a["labels"]["alertname"]: a for a in json.loads(resp.read())}
        if wanted <= set(alerts):
            break
        assert time.monotonic() < deadline, f"alerts never arrived: {sorted(alerts)}"
        time.sleep(0.2)
    errors = alerts["BrokerRequestErrors"]["status"]
    assert errors["state"] == "suppressed" and errors["inhibitedBy"], "topstepx's errors follow from its token"
    assert alerts["BrokerChecksFailing"]["status"]["state"] == "active", "another venue's alert is not inhibited"
    assert alerts["BrokerTokenFailures"]["status"]["state"] == "active"
