"""``at-audit-verify LOCATION``: exit 1 and list the problems when the audit chain is not intact,
or when it holds events that arrived on a subject they may not come from (flagged, listed).

LOCATION is a SQLite path or a ``postgresql://`` URL (``$AT_OBS_AUDIT_POSTGRES_URL`` style).
"""

from __future__ import annotations

import sys

from at_obs.adapters.audit_store import misrouted_in_store, open_audit_store, verify_store
from at_obs.errors import AuditStoreError


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: at-audit-verify PATH_TO_AUDIT_SQLITE | postgresql://...", file=sys.stderr)
        return 2
    try:
        store = open_audit_store(args[0])
    except AuditStoreError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        problems = verify_store(store)
        flagged = misrouted_in_store(store)
        for p in (*problems, *flagged):
            print(p)
        head = store.head()
        status = "chain intact" if not problems else f"{len(problems)} problems"
        if flagged:
            status += f", {len(flagged)} misrouted events flagged"
        print(f"{store.count()} records, head seq {head.seq} {head.hash}, {status}")
    finally:
        store.close()
    return 1 if problems or flagged else 0


if __name__ == "__main__":
    sys.exit(main())
