"""at-core: the contracts every Agentic Trading service speaks.

Events, canonical models, risk primitives, NATS subjects and the shared runtime
(bus helpers, logging, metrics, settings). Services depend on this package through
a version range and never on each other.
"""

__version__ = "0.1.6"

#: Major line of the contracts: consumers pin ``>=0.1,<0.2``.
CONTRACTS_LINE = ".".join(__version__.split(".")[:2])
