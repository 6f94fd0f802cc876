"""tools/stack.py's settings, ports and supervision, and the one list of services, without a stack."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from at_core.constants import DEFAULT_PORTS, SERVICE_NAMES, SERVICES
from at_core.metrics.catalog import SERVICES as METRIC_SERVICES
from e2e.conftest import ROOT
from e2e.stack_harness import PROCESS
from tools import env_example
from tools import stack as stack_mod
from tools.demo import banner_lines


def test_one_list_of_services_read_by_every_tool() -> None:
    assert stack_mod.SERVICES == SERVICE_NAMES == METRIC_SERVICES
    assert tuple(env_example.settings_classes()) == SERVICE_NAMES
    assert {s.name: s.process for s in SERVICES} == PROCESS
    assert {s.name: s.port for s in SERVICES} == DEFAULT_PORTS
    assert set(stack_mod.procfile_commands()) >= {s.process for s in SERVICES}
    make = subprocess.run(
        ["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", "-", "print-services"],
        input="print-services:\n\t@echo $(SERVICES)\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert make.stdout.split() == [s.package for s in SERVICES]
    for s in SERVICES:
        assert (ROOT / s.package / "src" / s.module).is_dir(), s
        assert f'{s.command} = "' in (ROOT / s.package / "pyproject.toml").read_text(), s


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# a comment\n\nAT_GATEWAY_PORT=9080\nexport AT_AGENTS_PORT='9081'\nAT_OBS_LOG_LEVEL=\"DEBUG\"\nOTHER=1\n"
    )
    settings = stack_mod.settings_from_environment({"AT_GATEWAY_PORT": "7080", "HOME": "/x"}, dotenv)
    assert settings == {"AT_GATEWAY_PORT": "7080", "AT_AGENTS_PORT": "9081", "AT_OBS_LOG_LEVEL": "DEBUG"}


def test_ports_and_settings_reach_the_stack_but_not_its_nats_users(tmp_path: Path) -> None:
    settings = {
        "AT_GATEWAY_PORT": "9080",
        "AT_STACK_NATS_PORT": "5222",
        "AT_STACK_NATS_MONITOR_PORT": "9222",
        "AT_EXEC_SIM_LOG_LEVEL": "DEBUG",
        "AT_GATEWAY_ROUTES_FILE": "/mine.yaml",
        "AT_AGENTS_NATS_PASSWORD": "guess",
        "AT_STACK_DIR": "/elsewhere",
    }
    stk = stack_mod.new_stack(tmp_path, extra_env={"AT_GATEWAY_ROUTES_FILE": "/demo.json"}, settings=settings)
    assert (stk.ports["gateway"], stk.nats_port, stk.monitor_port) == (9080, 5222, 9222)
    assert stk.ports["agents"] == DEFAULT_PORTS["agents"]
    assert stk.extra_env["AT_GATEWAY_ROUTES_FILE"] == "/mine.yaml"  # the user's over the demo's
    assert [n.split()[0] for n in stk.ignored_settings] == ["AT_AGENTS_NATS_PASSWORD", "AT_STACK_DIR"]
    env = dict(line.split("=", 1) for line in stack_mod.write_config(stk).read_text().splitlines())
    assert env["AT_GATEWAY_PORT"] == "9080" and env["AT_EXEC_SIM_LOG_LEVEL"] == "DEBUG"
    assert env["AT_AGENTS_NATS_PASSWORD"] == stk.passwords["agents"] and env["AT_STACK_DIR"] == str(tmp_path)
    assert 'listen: "127.0.0.1:5222"' in (tmp_path / "nats.conf").read_text()


@pytest.mark.parametrize("value", ["eighty", "0", "70000"])
def test_a_port_that_is_not_one_is_refused_by_name(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError, match="AT_OBS_PORT"):
        stack_mod.new_stack(tmp_path, settings={"AT_OBS_PORT": value})


def test_ports_in_use_are_refused_and_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stk = stack_mod.new_stack(tmp_path, pick_free_ports=True)
        stk.ports["exec_sim"] = port
        with pytest.raises(stack_mod.PortsInUse) as caught:
            stack_mod.check_ports(stk)
    assert caught.value.taken == {"exec_sim": port}
    assert f"exec_sim :{port}" in str(caught.value) and "AT_GATEWAY_PORT=9080" in str(caught.value)
    stack_mod.check_ports(stk)  # free again


def test_a_process_that_dies_is_named_with_its_pid_its_signal_and_its_last_lines(tmp_path: Path) -> None:
    stk = stack_mod.new_stack(tmp_path, pick_free_ports=True)
    procs = stack_mod.Processes(stk)
    procs.commands = {
        "steady": "exec sleep 60",
        "doomed": "echo 'opened the store'; echo 'about to fail'; exec sleep 60",
    }
    procs.start_all()
    try:
        procs.check()  # all alive
        doomed = procs.procs["doomed"]
        while "about to fail" not in procs.log("doomed"):
            assert doomed.poll() is None
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        with pytest.raises(stack_mod.ProcessDied) as caught:
            procs.check()
    finally:
        procs.stop_all()
    message = str(caught.value)
    assert caught.value.name == "doomed" and caught.value.returncode == -signal.SIGKILL
    assert f"doomed (pid {doomed.pid}) exited: killed by SIGKILL" in message
    assert "about to fail" in message and str(tmp_path / "doomed.log") in message
    assert stack_mod.exit_description(3) == "exit code 3"


def test_a_stop_signals_every_service_at_once_kills_and_names_a_hung_one_and_stops_nats_last(tmp_path: Path) -> None:
    stk = stack_mod.new_stack(tmp_path, pick_free_ports=True)
    procs = stack_mod.Processes(stk)
    gone = tmp_path / "gone"
    procs.commands = {  # the first process stands for nats-server: it must outlive the services
        "nats": f"trap 'test -e {gone}/a && test -e {gone}/b && touch {gone}/nats-last; exit 0' TERM; "
        "echo up; while :; do sleep 0.05; done",
        "a": f"trap 'touch {gone}/a; exit 0' TERM; echo up; while :; do sleep 0.05; done",
        "hung": "trap '' TERM; echo up; while :; do sleep 0.05; done",
        "b": f"trap 'touch {gone}/b; exit 0' TERM; echo up; while :; do sleep 0.05; done",
    }
    gone.mkdir()
    procs.start_all()
    while not all("up" in procs.log(name) for name in procs.commands):  # every trap is set
        time.sleep(0.05)
    hung = procs.signal_and_wait(["a", "hung", "b"], signal.SIGTERM, grace_s=1.0)
    assert hung == ["hung"] and not procs.procs.keys() - {"nats"}
    assert procs.stop_all() == [] and (gone / "nats-last").exists()


def test_the_banner_gives_a_url_to_paste_the_template_the_warning_and_the_admin_credentials(tmp_path: Path) -> None:
    stk = stack_mod.new_stack(tmp_path, settings={"AT_GATEWAY_PORT": "9080"})
    text = "\n".join(banner_lines(stk))
    assert "http://127.0.0.1:9080/webhooks/tradingview/dev-webhook-secret" in text
    assert "{{strategy.order.action}}" in text and "<your-secret>" not in text
    assert re.search(r"WARNING: dev defaults .* paper", text)
    assert f"password in {tmp_path / 'admin.password'}" in text and "--password-file" in text
    own = stack_mod.new_stack(
        tmp_path,
        settings={"AT_GATEWAY_WEBHOOK_SECRETS": "s3cret,old"}
        | {f"{p}API_KEYS": "operator:k" for p in stack_mod.PREFIX.values()},
    )
    own_text = "\n".join(banner_lines(own))
    assert "/webhooks/tradingview/s3cret" in own_text and "WARNING" not in own_text


def test_make_up_refuses_to_start_on_a_taken_port_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "demo.py"), "--serve", "--run-dir", str(tmp_path)],
            env={"PATH": "/usr/bin:/bin", "AT_GATEWAY_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"gateway :{port}" in result.stdout and "not started" in result.stdout
    assert not (tmp_path / "nats.log").exists()  # nothing was started
