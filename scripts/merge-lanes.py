#!/usr/bin/env python3
"""Merges what scripts/gpu-train-lanes.sh brought back into a carried run directory.

usage: scripts/merge-lanes.py OUT_DIR RUN_DIR [--keep-latent]
Each OUT_DIR/<stage>/ holds one lane: lane.tgz (state.json, log.csv, its last grid; older calls
brought them back as loose files) and ema-<stage>.ldf. The lane's progress for its own stage, its
new log rows and its EMA part replace the run's, except the latent sampler's EMA part: at f16 it is
over what the device tool carries beside the repository, so its copy is the int8 one in the
shipped file (models/checkpoints/s64-landscapes/README.md). With --keep-latent (the 128-px run,
whose parts are carried in place of the repository's 64-px checkpoint) it is kept like the others.
"""
import csv, json, shutil, sys, tarfile
from pathlib import Path

out, run = Path(sys.argv[1]), Path(sys.argv[2])
keep_latent = sys.argv[3:] == ["--keep-latent"]
if sys.argv[3:] and not keep_latent:
    sys.exit(__doc__)
state = json.loads((run / "state.json").read_text())
with open(run / "log.csv", newline="") as f:
    rows = list(csv.DictReader(f))
# The trainer's columns: older logs lack the aux loss parts (nll, kl) and diagnostics (gaussian_nll,
# sigma), which stay empty there.
fields = ["stage", "step", "loss", "images_per_second", "lr", "seconds", "nll", "kl", "gaussian_nll", "sigma"]
for lane in sorted(p for p in out.iterdir() if p.is_dir() and ((p / "state.json").is_file() or (p / "lane.tgz").is_file())):
    stage = lane.name
    if (lane / "lane.tgz").is_file():
        with tarfile.open(lane / "lane.tgz") as archive:
            archive.extractall(lane, filter="data")
        for grid in (lane / "samples").glob("*.png"):
            grid.replace(lane / grid.name)
    lane_state = json.loads((lane / "state.json").read_text())
    state["stages"][stage] = lane_state["stages"][stage]
    state["settings"]["steps"] = max(state["settings"]["steps"], lane_state["settings"]["steps"])
    own = lane_state["settings"].get("stage_steps", {}).get(stage)
    if own is not None:
        state["settings"].setdefault("stage_steps", {})[stage] = own
    last = max((int(r["step"]) for r in rows if r["stage"] == stage), default=-1)
    with open(lane / "log.csv", newline="") as f:
        rows += [r for r in csv.DictReader(f) if r["stage"] == stage and int(r["step"]) > last]
    if stage == "latent" and not keep_latent:
        print("latent: EMA part left out (kept as int8 in the shipped file)")
    else:
        shutil.copy(lane / f"ema-{stage}.ldf", run / f"ema-{stage}.ldf")
    for grid in lane.glob(f"{stage}-*.png"):
        for old in run.glob(f"{stage}-*.png"):
            old.unlink()
        shutil.copy(grid, run / grid.name)
    print(f"{stage}: {state['stages'][stage]}")
(run / "state.json").write_text(json.dumps(state, indent=2) + "\n")
with open(run / "log.csv", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=fields, restval="")
    writer.writeheader()
    writer.writerows(rows)
