"""docker compose describes the same stack: valid file, real services, ports and settings."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from e2e.conftest import ROOT, require_tool
from tools.stack import COMPOSE_NATS_CONF, compose_nats_conf

COMPOSE = ROOT / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_is_valid_for_docker_compose() -> None:
    tool = require_tool("docker-compose")
    result = subprocess.run(
        [tool, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr


def test_every_built_service_has_its_dockerfile_and_package() -> None:
    for name, service in _compose()["services"].items():
        build = service.get("build")
        if build is None:
            continue
        dockerfile = ROOT / build["context"] / build["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        assert (dockerfile.parent / "pyproject.toml").is_file(), name


def test_service_ports_match_their_port_settings() -> None:
    for name, service in _compose()["services"].items():
        env = service.get("environment", {})
        port_vars = [v for k, v in env.items() if k.endswith("_PORT") and k.startswith("AT_")]
        if port_vars:
            published = [p.split(":")[1] for p in service["ports"]]
            assert port_vars[0] in published, name


def test_compose_nats_config_is_generated_from_the_permissions_in_at_core() -> None:
    assert COMPOSE_NATS_CONF.read_text() == compose_nats_conf(), "run: python tools/stack.py compose-nats-conf"


def test_compose_nats_config_is_accepted_by_nats_server(tmp_path: Path) -> None:
    from at_core.testing import find_nats_server

    conf = tmp_path / "nats.conf"
    conf.write_text(compose_nats_conf().replace('store_dir: "/data"', f'store_dir: "{tmp_path}"'))
    env = {**os.environ, **{f"NATS_{s}_PASSWORD": "x" for s in ("GATEWAY", "AGENTS", "EXEC_SIM", "OBS", "ADMIN")}}
    result = subprocess.run(
        [find_nats_server(), "-t", "-c", str(conf)], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout


# --- each container loads the config meant for compose (issue 13, item 11) -------------------
CONFIG_FLAGS = ("--config.file=", "-c")


def _loaded_config(service: dict) -> str | None:
    """The container path of the config file a service's command loads, if it names one."""
    command = service.get("command") or []
    for i, arg in enumerate(command):
        if arg.startswith("--config.file="):
            return arg.split("=", 1)[1]
        if arg == "-c" and i + 1 < len(command):
            return str(command[i + 1])
    return None


def _host_path(service: dict, container_path: str) -> Path | None:
    """Map a container path to the repository file a bind mount puts there."""
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        target = rest.split(":")[0]
        if not source.startswith("./"):
            continue
        if container_path == target:
            return ROOT / source
        if container_path.startswith(target.rstrip("/") + "/"):
            return ROOT / source / container_path[len(target.rstrip("/")) + 1 :]
    return None


def _compose_services() -> set[str]:
    return set(_compose()["services"])


def test_every_mounted_config_is_the_one_meant_for_compose() -> None:
    """A config with a ``-compose`` sibling is for loopback (`make up`): compose must load the sibling,
    and every host a Prometheus config scrapes or alerts must be a compose service, never loopback."""
    checked = []
    for name, service in _compose()["services"].items():
        container_path = _loaded_config(service)
        if container_path is None:
            continue
        host = _host_path(service, container_path)
        assert host is not None and host.is_file(), f"{name}: {container_path} is not a file mounted from the repo"
        sibling = host.with_name(f"{host.stem}-compose{host.suffix}")
        assert "compose" in host.name or not sibling.exists(), (
            f"{name} loads {host.relative_to(ROOT)}, the loopback config; compose's is {sibling.relative_to(ROOT)}"
        )
        checked.append(name)
        if name == "prometheus":
            config = yaml.safe_load(host.read_text())
            targets = [
                t
                for section in [*config.get("scrape_configs", []), *config.get("alerting", {}).get("alertmanagers", [])]
                for static in section.get("static_configs", [])
                for t in static["targets"]
            ]
            hosts = {t.rsplit(":", 1)[0] for t in targets}
            assert targets and hosts <= _compose_services(), f"prometheus scrapes {sorted(hosts - _compose_services())}"
    assert {"nats", "prometheus", "alertmanager"} <= set(checked), checked


def test_grafana_reads_prometheus_by_its_compose_name() -> None:
    services = _compose()["services"]
    mounts = [v for v in services["grafana"]["volumes"] if str(v).endswith("/etc/grafana/provisioning:ro")]
    assert mounts, "grafana's provisioning is not mounted"
    source = ROOT / str(mounts[0]).split(":")[0]
    for datasource in yaml.safe_load((source / "datasources" / "prometheus.yml").read_text())["datasources"]:
        host = datasource["url"].split("//", 1)[1].split(":")[0]
        assert host in services, f"grafana's datasource points at {host}, not a compose service"
