"""The at-agents exception tree: one root, typed attributes."""

from __future__ import annotations


class AgentsError(Exception):
    """Root of every at-agents error."""


class ConfigError(AgentsError, ValueError):
    """The committees / agents configuration is invalid."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class ProviderConfigError(ConfigError):
    """A provider cannot be built (no key, unknown kind)."""


class ReplayCacheMiss(AgentsError, LookupError):
    """Replay mode needed an LLM answer that was never recorded: never a live call."""

    def __init__(self, key: str, model: str) -> None:
        self.key = key
        self.model = model
        super().__init__(f"no recording for {model} request {key[:16]} in replay mode")
