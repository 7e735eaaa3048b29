#!/usr/bin/env python3
"""Turns a copy of a run's state.json into one lane of a flow-stage ablation (scripts/gpu-ablate.sh).

    ablate-lane.py STATE STEPS EMA_DECAY [key=value ...]

Each key is a dotted path into the run's model configuration (`prior_std_scale`,
`prior_std_floor`, `loss.weighting`, `loss.time_sampling`, ...); values are JSON, or plain strings.
The flow stage's own step target becomes its current step plus STEPS, so every lane gets the same
budget, and the EMA decay is lowered so that the evaluated weights reflect the lane's steps rather
than the run they started from.
"""
import json
import sys

path, steps, ema_decay, *edits = sys.argv[1:]
state = json.load(open(path))
for edit in edits:
    key, _, raw = edit.partition("=")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    node = state["config"]
    *parents, leaf = key.split(".")
    for part in parents:
        node = node[part]
    if leaf not in node and leaf != "prior_std_floor":
        sys.exit(f"unknown configuration field {key}")
    node[leaf] = value
flow_step = state["stages"]["flow"]["step"]
state["settings"]["stage_steps"]["flow"] = flow_step + int(steps)
state["settings"]["ema_decay"] = float(ema_decay)
json.dump(state, open(path, "w"), indent=2)
print(path, "flow", flow_step, "->", flow_step + int(steps), edits)
