#!/usr/bin/env python3
"""Embeds a file as a C byte array: embed.py INPUT OUTPUT SYMBOL (run by meson at build time)."""
import sys

src, out, sym = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()
lines = []
for i in range(0, len(data), 16):
    lines.append("    " + " ".join("0x%02x," % b for b in data[i:i + 16]))
with open(out, "w") as f:
    f.write("/* generated from %s by embed.py: do not edit */\n" % src.split("/")[-1])
    f.write("#include <stddef.h>\n")
    f.write("extern const char %s[];\nextern const size_t %s_len;\n" % (sym, sym))
    f.write("const char %s[] = {\n%s\n    0x00};\n" % (sym, "\n".join(lines)))
    f.write("const size_t %s_len = %d;\n" % (sym, len(data)))
