#!/usr/bin/env python3
"""Looks rows up with the papi package and prints each as one line of JSON, then a summary
line. Same behaviour and output as examples/c/lookup.c.

    pip install bindings/python        # or PYTHONPATH=bindings/python/src
    PAPI_SOURCE=sqlite:/tmp/demo.db python3 lookup.py 1885 2
"""

import sys

import papi


def main(argv):
    dataset = "customer"
    if len(argv) > 2 and argv[1] == "--dataset":
        dataset, argv = argv[2], argv[2:]
    ids = argv[1:]
    if not ids:
        print("usage: lookup.py [--dataset NAME] ID...", file=sys.stderr)
        return 2
    try:
        with papi.Client() as client:  # options from PAPI_SOURCE, PAPI_CACHE, SNOWFLAKE_*
            result = client.lookup_result(dataset, ids)
    except (papi.InvalidInput, papi.UnknownDataset) as e:
        print("lookup: %s" % e, file=sys.stderr)
        return 2
    except papi.Error as e:
        print("lookup: %s" % e, file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    for row in result.rows:  # bytes: the library's JSON, forwarded untouched
        out.write(row + b"\n")
    out.write(b"# %d of %d ids found\n" % (len(result), len(ids)))
    # Decoded rows are dicts: result.dicts()[0]["C_FIRST_NAME"]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
