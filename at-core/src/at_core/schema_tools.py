"""JSON Schema export, drift check and compatibility check for the event contracts.

* ``at-core-schemas export``: write one ``<event_type>.json`` per event to ``schemas/``.
* ``at-core-schemas check``: fail if the committed schemas differ from the models (drift),
  or if the models would break a consumer of the released snapshot of this major line
  (``schemas/released/<line>.json``): a removed event or field, a new required field, or
  a narrowed type, enum or constraint.
* ``at-core-schemas release``: write the released snapshot for the current line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from at_core import CONTRACTS_LINE
from at_core.errors import SchemaCompatibilityError
from at_core.events import EVENT_CLASSES
from at_core.runtime.cli import CONTEXT_SETTINGS, run_app

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "schemas"
Schema = dict[str, Any]


def generate() -> dict[str, Schema]:
    """JSON Schema of every event, by ``event_type``."""
    return {cls.type_name(): cls.model_json_schema(mode="serialization") for cls in EVENT_CLASSES}


def _dump(schema: Schema) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type, schema in generate().items():
        path = directory / f"{event_type}.json"
        path.write_text(_dump(schema))
        written.append(path)
    return written


def drift(directory: Path) -> list[str]:
    """Event types whose committed schema differs from (or is missing for) the models."""
    problems = []
    current = generate()
    for event_type, schema in current.items():
        path = directory / f"{event_type}.json"
        if not path.exists():
            problems.append(f"{event_type}: {path.name} missing")
        elif path.read_text() != _dump(schema):
            problems.append(f"{event_type}: {path.name} is stale")
    for path in directory.glob("*.json"):
        if path.stem not in current:
            problems.append(f"{path.name}: no such event any more")
    return problems


# --- compatibility -----------------------------------------------------------------------


def _resolve(node: Schema, defs: Schema) -> Schema:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _variants(node: Schema, defs: Schema) -> list[Schema]:
    node = _resolve(node, defs)
    for key in ("anyOf", "oneOf"):
        if key in node:
            out: list[Schema] = []
            for sub in node[key]:
                out.extend(_variants(sub, defs))
            return out
    return [node]


def _kind(node: Schema) -> str:
    if "const" in node:
        return f"const:{json.dumps(node['const'])}"
    if "enum" in node:
        return "enum"
    return str(node.get("type", "any"))


_WIDER_IS_SMALLER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")
_WIDER_IS_LARGER = ("minimum", "exclusiveMinimum", "minLength", "minItems")


def _compare(
    old: Schema, new: Schema, old_defs: Schema, new_defs: Schema, path: str, out: list[str], depth: int = 0
) -> None:
    if depth > 20:
        return
    old_vs, new_vs = _variants(old, old_defs), _variants(new, new_defs)
    new_by_kind: dict[str, list[Schema]] = {}
    for v in new_vs:
        new_by_kind.setdefault(_kind(v), []).append(v)
    new_enum_values = {json.dumps(x) for v in new_vs for x in v.get("enum", [])}
    new_consts = {k for k in new_by_kind if k.startswith("const:")}
    for ov in old_vs:
        kind = _kind(ov)
        if "any" in new_by_kind:
            continue
        if kind == "enum":
            lost = {json.dumps(x) for x in ov["enum"]} - new_enum_values - {c[6:] for c in new_consts}
            if lost:
                out.append(f"{path}: enum values removed {sorted(lost)}")
            continue
        if kind.startswith("const:"):
            if kind not in new_consts and kind[6:] not in new_enum_values:
                out.append(f"{path}: value {kind[6:]} no longer allowed")
            continue
        candidates = new_by_kind.get(kind) or (new_by_kind.get("number") if kind == "integer" else None)
        if not candidates:
            out.append(f"{path}: type {kind} no longer accepted")
            continue
        # In a union of objects, an old variant is fine if some new variant accepts it;
        # report against the same-titled one (pydantic titles variants by class name).
        candidates = sorted(candidates, key=lambda c: c.get("title") != ov.get("title"))
        attempts = []
        for nv in candidates:
            found: list[str] = []
            _compare_variant(ov, nv, kind, old_defs, new_defs, path, found, depth)
            if not found:
                break
            attempts.append(found)
        else:
            out.extend(attempts[0])


def _compare_variant(
    ov: Schema, nv: Schema, kind: str, old_defs: Schema, new_defs: Schema, path: str, out: list[str], depth: int
) -> None:
    for key in _WIDER_IS_SMALLER:
        if key in nv and (key not in ov or nv[key] < ov[key]):
            out.append(f"{path}: {key} narrowed to {nv[key]}")
    for key in _WIDER_IS_LARGER:
        if key in nv and (key not in ov or nv[key] > ov[key]):
            out.append(f"{path}: {key} narrowed to {nv[key]}")
    if nv.get("pattern") != ov.get("pattern") and "pattern" in nv:
        out.append(f"{path}: pattern changed")
    if kind == "object":
        _compare_object(ov, nv, old_defs, new_defs, path, out, depth + 1)
    if kind == "array" and "items" in ov and "items" in nv:
        _compare(ov["items"], nv["items"], old_defs, new_defs, f"{path}[]", out, depth + 1)


def _compare_object(
    old: Schema, new: Schema, old_defs: Schema, new_defs: Schema, path: str, out: list[str], depth: int
) -> None:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(old_props):
        if name not in new_props:
            out.append(f"{path}.{name}: field removed")
        else:
            _compare(old_props[name], new_props[name], old_defs, new_defs, f"{path}.{name}", out, depth)
    for name in sorted(new_req - old_req):
        out.append(f"{path}.{name}: new required field" if name not in old_props else f"{path}.{name}: became required")
    if (
        "additionalProperties" in old
        and "additionalProperties" in new
        and isinstance(old["additionalProperties"], dict)
    ):
        _compare(
            old["additionalProperties"], new["additionalProperties"], old_defs, new_defs, f"{path}{{}}", out, depth
        )


def compatibility_problems(old: dict[str, Schema], new: dict[str, Schema]) -> list[str]:
    """Every way ``new`` would break a consumer written against ``old``."""
    problems: list[str] = []
    for event_type in sorted(old):
        if event_type not in new:
            problems.append(f"{event_type}: event type removed")
            continue
        o, n = old[event_type], new[event_type]
        _compare(o, n, o.get("$defs", {}), n.get("$defs", {}), event_type, problems)
    return problems


def check_compatible(old: dict[str, Schema], new: dict[str, Schema]) -> None:
    """Raises:
    SchemaCompatibilityError: listing every breaking change.
    """
    problems = compatibility_problems(old, new)
    if problems:
        raise SchemaCompatibilityError(problems)


def released_path(directory: Path, line: str = CONTRACTS_LINE) -> Path:
    return directory / "released" / f"{line}.json"


app = typer.Typer(
    name="at-core-schemas",
    help=__doc__,
    add_completion=False,
    no_args_is_help=True,
    context_settings=CONTEXT_SETTINGS,
    pretty_exceptions_enable=False,
)
DIR_OPTION = typer.Option(DEFAULT_DIR, "--dir", help="schemas directory (default: at-core/schemas)")


@app.command("export")
def export_command(directory: Path = DIR_OPTION) -> None:
    """Write every event's JSON schema into the directory."""
    for path in export(directory):
        print(f"wrote {path}")


@app.command("release")
def release_command(directory: Path = DIR_OPTION) -> None:
    """Snapshot the schemas of this contracts line (the compatibility baseline)."""
    path = released_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_dump(generate()))
    print(f"wrote {path}")


@app.command("check")
def check_command(directory: Path = DIR_OPTION) -> None:
    """Exit 1 on schema drift or a breaking change against the released snapshot."""
    failed = False
    for problem in drift(directory):
        print(f"schema drift: {problem} (run: make schemas)", file=sys.stderr)
        failed = True
    snapshot = released_path(directory)
    if not snapshot.exists():
        print(f"missing released snapshot {snapshot} (run: at-core-schemas release)", file=sys.stderr)
        failed = True
    else:
        for problem in compatibility_problems(json.loads(snapshot.read_text()), generate()):
            print(f"breaking change within {CONTRACTS_LINE}: {problem}", file=sys.stderr)
            failed = True
    if failed:
        raise typer.Exit(1)
    print(f"schemas: {len(generate())} events, no drift, compatible with released {CONTRACTS_LINE}")


def main(argv: list[str] | None = None) -> int:
    """Console script ``at-core-schemas``: ``export``, ``check`` or ``release`` (``--dir``)."""
    return run_app(app, argv)


if __name__ == "__main__":
    sys.exit(main())
