#!/usr/bin/python3
"""Checks the exported ABI of libpapi.so (STYLE.md 16).

What it proves, for the built shared library:
  - its SONAME is the expected one (libpapi.so.<soversion>);
  - the dynamic symbols it defines are exactly the functions declared PAPI_API in the public
    headers: nothing missing (a consumer would fail to link), nothing extra (an accidental export);
  - every export matches a `global:` pattern of the version script, carries its version node,
    and no internal name (papi__*) or non-papi_ name leaks;
  - optionally, that the papi__* internals of the static library are absent from the .so.

Usage: check_abi.py --lib libpapi.so --soname libpapi.so.0 --map libpapi.map
                    [--static libpapi.a] [--expect TEXT]... HEADER...
With --expect (the checker's own test against a deliberately leaky library), success means every
TEXT appears in some error.
"""
import argparse
import fnmatch
import re
import subprocess
import sys


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def declared_functions(headers):
    """Names of functions whose declaration starts with PAPI_API (not the macro's definition)."""
    names = set()
    for path in headers:
        with open(path, encoding="utf-8") as f:
            text = strip_comments(f.read())
        text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)  # preprocessor lines, incl. #define PAPI_API
        for m in re.finditer(r"\bPAPI_API\b([^;{]*?)\(", text):
            decl = m.group(1)
            ident = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", decl)
            if not ident:
                raise SystemExit(f"{path}: cannot parse a PAPI_API declaration near: {decl!r}")
            names.add(ident[-1])
    return names


def version_script(path):
    """(node name, global patterns, local patterns) of a one-node GNU version script."""
    with open(path, encoding="utf-8") as f:
        text = strip_comments(f.read())
    m = re.search(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\{(.*?)\}\s*;", text, flags=re.S)
    if not m:
        raise SystemExit(f"{path}: no version node found")
    node, body = m.group(1), m.group(2)
    glob, loc, section = [], [], None
    for tok in re.split(r"[;\s]+", body):
        if tok in ("global:", "local:"):
            section = tok
        elif tok:
            (glob if section == "global:" else loc).append(tok)
    return node, glob, loc


def dynamic_symbols(lib):
    """{name: version} of the symbols the library defines in its dynamic table."""
    out = run(["nm", "-D", "--defined-only", lib])
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, full = parts[1], parts[2]
        if kind in ("A",):  # version node definitions (e.g. "A PAPI_0")
            continue
        name, _, version = full.partition("@")
        syms[name] = version.lstrip("@")
    return syms


def soname(lib):
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", run(["readelf", "-d", lib]))
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--soname", required=True)
    ap.add_argument("--map", required=True)
    ap.add_argument("--static")
    ap.add_argument("--min-exports", type=int, default=1)
    ap.add_argument("--expect", action="append", default=[],
                    help="negative self-test: succeed only if an error containing this text is found")
    ap.add_argument("headers", nargs="+")
    a = ap.parse_args()

    errors = []
    got_soname = soname(a.lib)
    if got_soname != a.soname:
        errors.append(f"SONAME is {got_soname!r}, expected {a.soname!r}")

    declared = declared_functions(a.headers)
    if len(declared) < a.min_exports:
        errors.append(f"only {len(declared)} PAPI_API declarations found in {a.headers}: parser broken?")
    node, glob, loc = version_script(a.map)
    exported = dynamic_symbols(a.lib)

    for name in sorted(declared - exported.keys()):
        errors.append(f"declared PAPI_API but not exported: {name}")
    for name in sorted(exported.keys() - declared):
        errors.append(f"exported but not declared PAPI_API in a public header: {name}")
    for name, ver in sorted(exported.items()):
        if not name.startswith("papi_") or name.startswith("papi__"):
            errors.append(f"exported name outside the public namespace: {name}")
        if not any(fnmatch.fnmatchcase(name, p) for p in glob):
            errors.append(f"exported but matched by no global: pattern of {a.map}: {name}")
        if ver != node:
            errors.append(f"{name} has version {ver!r}, expected {node!r}")

    if a.static:
        internal = set()
        for line in run(["nm", "--defined-only", a.static]).splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[2].startswith("papi__") and parts[1].isupper():
                internal.add(parts[2])
        if not internal:
            errors.append(f"no papi__* internals found in {a.static}: check is vacuous")
        for name in sorted(internal & exported.keys()):
            errors.append(f"internal symbol leaked from the shared library: {name}")

    if a.expect:
        for e in errors:
            print("ABI (expected to fail): " + e)
        missing = [x for x in a.expect if not any(x in e for e in errors)]
        for x in missing:
            print(f"ABI self-test: the checker did not report {x!r}")
        return 1 if missing else 0

    if errors:
        for e in errors:
            print("ABI: " + e)
        return 1
    print(f"ABI ok: SONAME {got_soname}, {len(exported)} symbols @{node}, "
          f"all declared PAPI_API, no papi__*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
