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
