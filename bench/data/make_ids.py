#!/usr/bin/python3
"""Writes customer_ids.txt: the ids 1..10000 in a fixed shuffled order (seed 1885), one a line;
and customer_batches.txt: the same ids in that order, 100 a line, comma-separated (the bodies
of the POST-batch scenario, bench/wrk/post.lua and the JMeter plan)."""
import os
import random

here = os.path.dirname(os.path.abspath(__file__))
ids = list(range(1, 10001))
random.Random(1885).shuffle(ids)
with open(os.path.join(here, "customer_ids.txt"), "w") as f:
    f.write("".join("%d\n" % i for i in ids))
with open(os.path.join(here, "customer_batches.txt"), "w") as f:
    f.write("".join(",".join(map(str, ids[i:i + 100])) + "\n" for i in range(0, len(ids), 100)))
