"""``at-backtest``: history (bars and a TradingView trade list) run through the live code, and the odds of a prop challenge.

Modules, pure unless named otherwise: ``errors`` (typed input errors), ``csvread`` (CSV cells
with line and column), ``bars`` (OHLCV files), ``tv_trades`` (TradingView's "List of trades"),
``recording`` (bars and trades to at-core events), ``trades`` (fills back to a trade list),
``challenge`` and ``montecarlo`` (the odds), ``report`` (HTML and JSON). ``stack`` (adapter)
starts the services in replay mode on an embedded NATS.
"""
