#!/usr/bin/env python3
"""Turns a copy of a run's state.json into one lane of a one-stage ablation (scripts/gpu-ablate.sh).

    ablate-lane.py STATE STAGE STEPS EMA_DECAY [key=value ...]

A key is a dotted path into the run's model configuration (`prior_std_scale`, `prior_std_floor`,
`loss.weighting`, `latent_sampler.levels`, ...), or into the run's training settings or stage
progress when it starts with `settings.` or `stages.` (`settings.batch=256`,
`stages.latent={"step":0,"images":0,"seconds":0}` to train the stage afresh). Values are JSON, or
plain strings. STAGE's step target becomes its (edited) current step plus STEPS, so every lane
gets the same budget, and the EMA decay is set so that the evaluated weights reflect the lane's
steps rather than the run they started from.
"""
import json
import sys

path, stage, steps, ema_decay, *edits = sys.argv[1:]
state = json.load(open(path))
for edit in edits:
    key, _, raw = edit.partition("=")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    parts = key.split(".")
    node = state if parts[0] in ("settings", "stages") else state["config"]
    *parents, leaf = parts
    for part in parents:
        node = node[part]
    if leaf not in node and leaf != "prior_std_floor":
        sys.exit(f"unknown field {key}")
    node[leaf] = value
step = state["stages"].get(stage, {"step": 0})["step"]
state["settings"].setdefault("stage_steps", {})[stage] = step + int(steps)
state["settings"]["ema_decay"] = float(ema_decay)
json.dump(state, open(path, "w"), indent=2)
print(path, stage, step, "->", step + int(steps), edits)
