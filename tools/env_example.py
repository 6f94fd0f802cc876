"""Render .env.example from the services' settings classes, so it can never fall behind them.

`python tools/env_example.py` rewrites .env.example; `--check` exits 1 when it is stale
(run by `make test` through e2e/test_config.py).
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from at_core.constants import SERVICES
from at_core.runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
ENV_EXAMPLE = ROOT / ".env.example"

HEADER = """\
# Every setting of every service, with its default and what it does.
# Generated from the settings classes by `python tools/env_example.py`: do not edit by hand.
# Copy to .env and change what you need; the defaults run a fresh clone on paper.
# Unset values fall back to these defaults; `environment=production` refuses unsafe ones.
"""


def settings_classes() -> dict[str, list[type[BaseSettings]]]:
    """Settings classes of each service: subclasses of ServiceSettings in ``at_<svc>.config``."""
    out: dict[str, list[type[BaseSettings]]] = {}
    for info in SERVICES:
        service = info.name
        module = importlib.import_module(f"{info.module}.config")
        classes = [
            obj
            for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, ServiceSettings) and obj is not ServiceSettings and obj.__module__ == module.__name__
        ]
        out[service] = classes
    return out


def _default(field) -> str:
    if field.is_required():
        return ""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict | tuple | set):
        return json.dumps(list(value) if isinstance(value, tuple | set) else value)
    return str(getattr(value, "value", value))


def render() -> str:
    lines = [HEADER]
    for service, classes in settings_classes().items():
        for cls in classes:
            prefix = str(cls.model_config.get("env_prefix", ""))
            lines.append(f"\n# --- {service}: {cls.__name__} ({prefix}*) ---")
            for name, field in cls.model_fields.items():
                doc = (field.description or "").replace("\n", " ")
                if doc:
                    lines.append(f"# {doc}")
                lines.append(f"{prefix}{name.upper()}={_default(field)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv[1:] == ["--check"]:
        if not ENV_EXAMPLE.exists() or ENV_EXAMPLE.read_text() != text:
            print(".env.example is stale: run `python tools/env_example.py`", file=sys.stderr)
            return 1
        return 0
    ENV_EXAMPLE.write_text(text)
    print(f"wrote {ENV_EXAMPLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
