"""The service kit: what every service's ``main.py`` repeated, once.

``create_service_app(ServiceSpec(...), settings)`` gives an app with the lifespan, the
health/readiness/metrics routes, problem-details errors, API-key auth and the docs switch.
See at-core's README ("Writing a service") for the skeleton.
"""

from __future__ import annotations

from at_core.service_kit.app import KitState, ServiceSpec, auth_policy, create_service_app, docs_enabled, service_of
from at_core.service_kit.auth import (
    DEV_API_KEYS,
    DEV_KEYS,
    ApiKeyConfigError,
    AuthPolicy,
    KeyRing,
    Principal,
    Scope,
    authorize,
    dev_headers,
    read_access,
    require,
)
from at_core.service_kit.consumers import ConsumerHealth, ConsumerWatch
from at_core.service_kit.guard import ScopeGuard
from at_core.service_kit.health import Readiness
from at_core.service_kit.problems import (
    PROBLEM_JSON,
    ProblemError,
    field_errors,
    install_problem_handlers,
    problem_body,
    problem_response,
)

__all__ = [
    "DEV_API_KEYS",
    "DEV_KEYS",
    "PROBLEM_JSON",
    "ApiKeyConfigError",
    "AuthPolicy",
    "ConsumerHealth",
    "ConsumerWatch",
    "KeyRing",
    "KitState",
    "Principal",
    "ProblemError",
    "Readiness",
    "Scope",
    "ScopeGuard",
    "ServiceSpec",
    "auth_policy",
    "authorize",
    "create_service_app",
    "dev_headers",
    "docs_enabled",
    "field_errors",
    "install_problem_handlers",
    "problem_body",
    "problem_response",
    "read_access",
    "require",
    "service_of",
]
