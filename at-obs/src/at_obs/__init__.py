"""at-obs: Observability: Prometheus and Grafana config, alert runbooks, audit trail, deterministic replay."""

__version__ = "0.1.0"
