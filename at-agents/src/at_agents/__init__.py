"""at-agents: Agents that turn signals into trade proposals: rules and LLMs, orchestration, memory, MCP."""

__version__ = "0.1.0"
