"""Shared runtime every service uses: settings, logging, metrics, the NATS bus."""
