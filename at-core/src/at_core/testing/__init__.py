"""Test support shared by every package: a real nats-server, and a valid example of every event.

Importing this package starts nothing; the pytest plugin (registered through the
``pytest11`` entry point) provides fixtures ``nats_server``, ``nats_url`` and
``event_examples`` to any package whose tests have at-core installed.
"""

from at_core.testing.examples import all_examples, example_events
from at_core.testing.nats_server import NatsServer, NatsServerError, find_nats_server, free_port

__all__ = ["NatsServer", "NatsServerError", "all_examples", "example_events", "find_nats_server", "free_port"]
