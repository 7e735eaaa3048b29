#!/usr/bin/env python3
"""Summarises scripts/gpu-ddp.sh: throughput per run and the 1- vs 2-GPU loss sequences.
usage: scripts/ddp-summary.py DIR (holding cuda1.csv, cuda2.csv, cuda2w.csv, vulkan1.csv)"""
import csv, os, statistics, sys

d = sys.argv[1]
runs = {}
for name in ["cuda1", "cuda2", "cuda2w", "vulkan1"]:
    path = os.path.join(d, name + ".csv")
    if os.path.exists(path):
        with open(path) as f:
            runs[name] = [r for r in csv.DictReader(f)]

print("| run | steps logged | median images/s (after warm-up) | first-window seconds |")
print("|---|---|---|---|")
ips = {}
for name, rows in runs.items():
    # The first two windows hold the kernel compilation and autotuning.
    steady = [float(r["images_per_second"]) for r in rows[2:]]
    ips[name] = statistics.median(steady) if steady else float("nan")
    first = float(rows[0]["seconds"]) if rows else float("nan")
    print(f"| {name} | {len(rows)} | {ips[name]:.1f} | {first:.1f} |")
if "cuda1" in ips and "cuda2" in ips:
    print(f"\nscaling, same global batch 64: {ips['cuda2'] / ips['cuda1']:.2f}x")
if "cuda1" in ips and "cuda2w" in ips:
    print(f"scaling, same per-GPU batch 64: {ips['cuda2w'] / ips['cuda1']:.2f}x")
if "cuda1" in ips and "vulkan1" in ips:
    print(f"CUDA / Vulkan, 1 GPU: {ips['cuda1'] / ips['vulkan1']:.2f}x")
twin_path = os.path.join(d, "twin.json")
if os.path.exists(twin_path):
    import json
    with open(twin_path) as f:
        twin = json.load(f)
    results = twin["runs"] if isinstance(twin, dict) and "runs" in twin else (twin if isinstance(twin, list) else [twin])
    print("\n| PyTorch twin | images/s | burn CUDA / twin | burn Vulkan / twin |")
    print("|---|---|---|---|")
    for r in results:
        name = f"{r.get('precision')} sdpa={r.get('sdpa')}"
        v = float(r.get("images_per_s", float("nan")))
        print(f"| {name} | {v:.0f} | {ips.get('cuda1', float('nan')) / v:.2f} | {ips.get('vulkan1', float('nan')) / v:.2f} |")
if "cuda1" in runs and "cuda2" in runs:
    one = {int(r["step"]): float(r["loss"]) for r in runs["cuda1"]}
    two = {int(r["step"]): float(r["loss"]) for r in runs["cuda2"]}
    common = sorted(set(one) & set(two))
    print("\n| step | 1 GPU loss | 2 GPU loss | relative difference |")
    print("|---|---|---|---|")
    for s in common:
        print(f"| {s} | {one[s]:.6f} | {two[s]:.6f} | {abs(one[s] - two[s]) / abs(one[s]):.2e} |")
