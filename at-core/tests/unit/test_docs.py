"""Docs move with code: CONTRACTS.md names every event and its schema file."""

from __future__ import annotations

from pathlib import Path

from at_core.events import EVENT_CLASSES

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md"


def test_contracts_doc_lists_every_event_with_its_schema_file() -> None:
    text = CONTRACTS.read_text()
    for cls in EVENT_CLASSES:
        name = cls.type_name()
        assert f"`{name}`" in text, name
        assert f"schemas/{name}.json" in text, name
        assert f"`{cls.__name__}`" in text, cls.__name__
