"""at-gateway: FastAPI entry point: TradingView webhooks and other ingest, published durably on NATS."""

__version__ = "0.1.0"
