#!/usr/bin/python3
"""The Python binding's view of struct papi_stats agrees with papi.h's one list of its members.

bindings/python/src/papi/_lib.py declares STATS_FIELDS (names in order) and STATS_ARRAYS (the
histograms and per-source arrays, and their lengths) to build a ctypes mirror of papi_stats; papi.h lists the
members once in PAPI_STATS_MEMBERS. A member added to one and not the other would shift every
counter after it in Python. Both files are read as text: nothing is imported or loaded.

usage: check_stats_fields.py PAPI_H LIB_PY
"""
import ast
import re
import sys


def header_members(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"#define PAPI_STATS_MEMBERS\(C, G, H\)((?:[^\n]*\\\n)*[^\n]*)", text)
    if not m:
        sys.exit(f"{path}: no PAPI_STATS_MEMBERS")
    body = m.group(1).replace("\\\n", " ")
    consts = {k: int(v) for k, v in re.findall(r"#define (PAPI_STATS_\w+) (\d+)", text)}
    out = []
    for kind, args in re.findall(r"\b([CGH])\(([^)]*)\)", body):
        parts = [a.strip() for a in args.split(",")]
        n = consts[parts[1]] if kind == "H" else None
        out.append((parts[0], n))
    return out


def binding_members(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name) and \
                node.targets[0].id in ("STATS_FIELDS", "STATS_ARRAYS"):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    if set(values) != {"STATS_FIELDS", "STATS_ARRAYS"}:
        sys.exit(f"{path}: STATS_FIELDS and STATS_ARRAYS must be plain literals")
    arrays = values["STATS_ARRAYS"]
    return [(name, arrays.get(name)) for name in values["STATS_FIELDS"]]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    h, py = header_members(sys.argv[1]), binding_members(sys.argv[2])
    if h != py:
        print("papi.h PAPI_STATS_MEMBERS:", h)
        print("_lib.py STATS_FIELDS/ARRAYS:", py)
        sys.exit("the Python binding's papi_stats differs from papi.h")
    print(f"{len(h)} members agree")


if __name__ == "__main__":
    main()
