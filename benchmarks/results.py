"""Writes one benchmark's section of benchmarks/RESULTS.md, keeping the rest."""

import datetime
import os
import platform
import re

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "RESULTS.md")
_HEADER = """# Benchmark results

Each section is rewritten by the script named in it; see docs/benchmarks.md
for what each row measures and against which peer. Ratios compare runs made
side by side in the same process on the same machine.
"""


def machine():
    return (f"{platform.machine()}, {os.cpu_count()} CPU cores, "
            f"{platform.python_implementation()} {platform.python_version()}")


def write_section(name, body):
    """Replaces the section `name` (or appends it) in RESULTS.md."""
    text = open(RESULTS, encoding="utf-8").read() if os.path.exists(RESULTS) \
        else _HEADER
    stamp = datetime.date.today().isoformat()
    section = (f"<!-- begin {name} -->\n## {name}\n\n_{stamp}, "
               f"{machine()}_\n\n{body.strip()}\n<!-- end {name} -->\n")
    pattern = re.compile(rf"<!-- begin {re.escape(name)} -->.*?"
                         rf"<!-- end {re.escape(name)} -->\n", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    tmp = RESULTS + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, RESULTS)
