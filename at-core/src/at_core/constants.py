"""System-wide constants: service names, default ports, default account and strategy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SERVICE_GATEWAY: Final = "gateway"
SERVICE_AGENTS: Final = "agents"
SERVICE_EXEC_SIM: Final = "exec_sim"
SERVICE_OBS: Final = "obs"


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """One service of the platform: the single list every tool reads (Makefile, stack, metrics, docs)."""

    name: str  #: the service's name in subjects, metrics and settings (``exec_sim``)
    package: str  #: its package directory and distribution (``at-exec-sim``)
    module: str  #: its import name (``at_exec_sim``)
    env_prefix: str  #: its settings' prefix (``AT_EXEC_SIM_``)
    command: str  #: the console script that runs it
    process: str  #: its process name in stack/Procfile
    port: int  #: its default HTTP port


#: Every service, in start order. The Makefile reads the ``package=`` values of this table.
SERVICES: Final[tuple[ServiceInfo, ...]] = (
    ServiceInfo(
        name=SERVICE_GATEWAY,
        package="at-gateway",
        module="at_gateway",
        env_prefix="AT_GATEWAY_",
        command="at-gateway",
        process="gateway",
        port=8080,
    ),
    ServiceInfo(
        name=SERVICE_AGENTS,
        package="at-agents",
        module="at_agents",
        env_prefix="AT_AGENTS_",
        command="at-agents",
        process="agents",
        port=8081,
    ),
    ServiceInfo(
        name=SERVICE_EXEC_SIM,
        package="at-exec-sim",
        module="at_exec_sim",
        env_prefix="AT_EXEC_SIM_",
        command="at-exec-sim",
        process="exec_sim",
        port=8082,
    ),
    ServiceInfo(
        name=SERVICE_OBS,
        package="at-obs",
        module="at_obs",
        env_prefix="AT_OBS_",
        command="at-recorder",
        process="recorder",
        port=8083,
    ),
)
#: Service names in start order.
SERVICE_NAMES: Final[tuple[str, ...]] = tuple(s.name for s in SERVICES)
#: Each service by its name.
SERVICE_BY_NAME: Final = {s.name: s for s in SERVICES}

DEFAULT_PORTS: Final = {s.name: s.port for s in SERVICES}
DEFAULT_NATS_PORT: Final = 4222

#: Where an alert goes when no routes file maps its secret: a paper account that exec-sim
#: always knows, so a fresh clone trades on paper and never on an account nobody configured.
DEFAULT_ACCOUNT_ID: Final = "paper-1"
DEFAULT_STRATEGY_ID: Final = "default"

#: The simulated venue's name on orders and fills.
SIM_VENUE: Final = "SIM"
