#!/usr/bin/env python3
"""Summarises a cubecl profiling log (`[profiling.logger] level = "basic"` in cubecl.toml).

The log has one line per timed kernel, `| 12.3µs     | name`, and a summary table each time the
client synchronises its buffers. Each kernel's first launch (its compilation) is left out. Where
there are tables, everything before the first one is left out too and the rest is divided by the
steps after step 0 that the trainer's log.csv records; without tables, by all the steps.

    usage: kernel-profile.py kernels.log log.csv [--top 40]
"""
import argparse
import collections
import csv
import re

UNITS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}
LINE = re.compile(r"^\|\s*([0-9.]+)(ns|µs|us|ms|s)\s*\|\s*(.+?)\s*$")


def family(name: str) -> str:
    """The kernel's name without its type arguments (`Name | Arg | …`) or its hash suffix."""
    name = re.sub(r"<.*", "", name.split(" | ")[0])
    name = re.sub(r"_[0-9a-f]{8}$", "", name)
    return name.split("::")[-1] if "::" in name else name


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("train_csv")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--names", type=int, default=0, help="also list the N costliest kernels by full name")
    a = p.parse_args()

    rows = list(csv.DictReader(open(a.train_csv)))
    last_step = int(rows[-1]["step"]) if rows else 0
    lines = open(a.log, encoding="utf-8", errors="replace").read().splitlines()
    tables = [i for i, raw in enumerate(lines) if re.match(r"^\|\s*Name\s*\|", raw)]
    first = tables[0] if tables else 0
    steps = last_step if tables else last_step + 1
    totals: dict[str, float] = collections.defaultdict(float)
    by_name: dict[str, float] = collections.defaultdict(float)
    by_name_n: dict[str, int] = collections.defaultdict(int)
    counts: dict[str, int] = collections.defaultdict(int)
    seen: set[str] = set()
    for raw in lines[first:]:
        m = LINE.match(raw)
        if not m:
            continue
        # A kernel's first launch includes its compilation (hundreds of ms under NVRTC): skip it.
        if m.group(3) not in seen:
            seen.add(m.group(3))
            continue
        ms = float(m.group(1)) * UNITS[m.group(2)]
        name = family(m.group(3))
        totals[name] += ms
        counts[name] += 1
        by_name[m.group(3)] += ms
        by_name_n[m.group(3)] += 1
    if steps <= 0 or not totals:
        print(f"nothing to summarise (steps {steps}, {len(totals)} kernel names, {len(lines)} lines); the log begins:")
        for raw in lines[:8]:
            print(f"  {raw[:160]}")
        return
    all_ms = sum(totals.values())
    all_n = sum(counts.values())
    print(f"{steps} steps{' after step 0' if tables else ''}: {all_n / steps:.0f} kernel launches and "
          f"{all_ms / steps:.2f} ms of kernel time per step")
    print(f"{'ms/step':>8} {'share':>6} {'launches/step':>13}  kernel")
    for name, ms in sorted(totals.items(), key=lambda kv: -kv[1])[: a.top]:
        print(f"{ms / steps:8.3f} {100 * ms / all_ms:5.1f}% {counts[name] / steps:13.1f}  {name}")
    if a.names:
        print(f"the {a.names} costliest kernels by full name:")
        for name, ms in sorted(by_name.items(), key=lambda kv: -kv[1])[: a.names]:
            print(f"{ms / steps:8.3f} {by_name_n[name] / steps:6.1f}/step  {name[:220]}")


if __name__ == "__main__":
    main()
