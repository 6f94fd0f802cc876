"""``at-audit-verify DB``: exit 1 and list the problems when the audit chain is not intact."""

from __future__ import annotations

import sys

from at_obs.adapters.audit_store import SqliteAuditStore


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: at-audit-verify PATH_TO_AUDIT_SQLITE", file=sys.stderr)
        return 2
    store = SqliteAuditStore(args[0])
    problems = store.verify()
    for p in problems:
        print(p)
    print(f"{store.count()} records, {'chain intact' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
