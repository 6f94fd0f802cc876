"""System-wide constants: service names, default ports, default account and strategy."""

from __future__ import annotations

from typing import Final

SERVICE_GATEWAY: Final = "gateway"
SERVICE_AGENTS: Final = "agents"
SERVICE_EXEC_SIM: Final = "exec_sim"
SERVICE_OBS: Final = "obs"

DEFAULT_PORTS: Final = {SERVICE_GATEWAY: 8080, SERVICE_AGENTS: 8081, SERVICE_EXEC_SIM: 8082, SERVICE_OBS: 8083}
DEFAULT_NATS_PORT: Final = 4222

#: Where an alert goes when no routes file maps its secret: a paper account that exec-sim
#: always knows, so a fresh clone trades on paper and never on an account nobody configured.
DEFAULT_ACCOUNT_ID: Final = "paper-1"
DEFAULT_STRATEGY_ID: Final = "default"

#: The simulated venue's name on orders and fills.
SIM_VENUE: Final = "SIM"
