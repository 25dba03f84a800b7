#!/usr/bin/python3
"""Writes customer_ids.txt: the ids 1..10000 in a fixed shuffled order (seed 1885), one a line."""
import os
import random

ids = list(range(1, 10001))
random.Random(1885).shuffle(ids)
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "customer_ids.txt"), "w") as f:
    f.write("".join("%d\n" % i for i in ids))
