"""Summarises the training logs in a results folder (scripts/gpu-train-profile.sh,
scripts/gpu-train-ratio.sh): for each `NAME.csv` (a run's log.csv) the median images/s of the
logged windows after the first two (which still compile and tune), when the first step was logged,
and the last loss; for each `NAME.dmon` (`nvidia-smi dmon -s u`) the median SM utilisation.
Logs of profiled runs (`*-profiled.csv`) are left out: the profiler serialises every kernel.

    python3 scripts/train-summary.py RESULTS_DIR
"""
import csv
import os
import statistics
import sys

folder = sys.argv[1]
for name in sorted(os.listdir(folder)):
    path = os.path.join(folder, name)
    if name.endswith(".csv") and not name.endswith("-profiled.csv"):
        rows = list(csv.DictReader(open(path)))
        steady = [float(r["images_per_second"]) for r in rows[2:]]
        if steady:
            print(f"{name[:-4]}: median {statistics.median(steady):.0f} images/s over {len(steady)} windows; "
                  f"first logged step at {rows[0]['seconds']} s; last loss {rows[-1]['loss']} at step {rows[-1]['step']}")
    if name.endswith(".dmon"):
        fields = [line.split() for line in open(path) if line.strip() and not line.startswith("#")]
        sm = sorted(int(f[1]) for f in fields if len(f) > 1 and f[1].isdigit())
        busy = sm[len(sm) // 2] if sm else None
        print(f"{name}: median SM utilisation {busy} % over {len(sm)} one-second samples")
