#!/usr/bin/env python3
"""Where a training process's wall-clock time went, from the outside.

Reads the timeline that scripts/gpu-train-profile.sh writes (`process-start T`, `process-end T`,
then `MTIME PATH` for every entry of the run directory) and the run's log.csv, and prints each
file's last write relative to the process start, beside the stage's own clock (the `seconds` of
its last log row). The gap before the stage clock is start-up (device, model, kernel cache); the
writes after it are the end-of-stage checkpoint, sample grid and loss plot.

    usage: train-timeline.py TIMELINE log.csv
"""
import csv
import sys


def main() -> None:
    timeline, log_csv = sys.argv[1], sys.argv[2]
    start = end = birth = None
    files = []
    for line in open(timeline):
        key, _, rest = line.strip().partition(" ")
        if key == "process-start":
            start = float(rest)
        elif key == "process-end":
            end = float(rest)
        elif key == "run-dir-birth":
            birth = float(rest)
        elif rest:
            files.append((float(key), rest))
    rows = list(csv.DictReader(open(log_csv)))
    stage_seconds = float(rows[-1]["seconds"]) if rows else 0.0
    print(f"process: {end - start:.1f} s; stage clock at its last log row: {stage_seconds:.1f} s")
    if birth:
        print(f"  {birth - start:8.1f} s  run directory created")
    for mtime, path in files:
        print(f"  {mtime - start:8.1f} s  {path}")


if __name__ == "__main__":
    main()
