#!/usr/bin/env python3
"""Regenerate dse's compact cell table from a Liberty file.

    python scripts/make_cell_table.py LIB[.gz] -o dse/data/nangate45.json [--slew NS]

The table holds, for each logic function the power model maps gates to, the
numbers of the smallest library cell implementing it (see dse/eval/_library.py).
"""

from __future__ import annotations

import argparse
import json
import sys

from dse.errors import DseError
from dse.eval._liberty import read_liberty
from dse.eval._library import cell_table, liberty_md5


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("liberty", help="Liberty file (.lib or .lib.gz)")
    ap.add_argument("-o", "--output", required=True, help="JSON table to write")
    ap.add_argument(
        "--slew",
        type=float,
        default=None,
        help="input slew (ns) for the internal-energy tables (default: derived)",
    )
    ap.add_argument(
        "--prefer",
        action="append",
        default=[],
        metavar="ROLE=CELL",
        help="force the cell for a role, e.g. --prefer MUX2=MUX2_X1",
    )
    args = ap.parse_args(argv)
    prefer = dict(p.split("=", 1) for p in args.prefer)
    try:
        lib = read_liberty(args.liberty)
        table = cell_table(
            lib, power_slew_ns=args.slew, prefer=prefer, source_md5=liberty_md5(args.liberty)
        )
    except DseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(table, f, indent=1, sort_keys=False)
        f.write("\n")
    roles = ", ".join(f"{r}={v['cell']}" for r, v in table["roles"].items())
    print(
        f"wrote {args.output}: {len(table['cells'])} cells ({roles}); "
        f"power slew {table['power_slew_ns']} ns"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
