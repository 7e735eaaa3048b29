#!/usr/bin/env python3
"""Writes models/manifest.json: what each shipped .ldf file is and how it was made.

usage: scripts/make-manifest.py RUN_DIR MODEL.ldf [MODEL.ldf ...] > models/manifest.json
       scripts/make-manifest.py models/manifest.json MODEL.ldf [...] > new.json  (keeps its training record)
`sha256` is the SHA-256 of the whole file (header and configuration included, what `sha256sum`
prints): the one the web client checks before it uses a file (web/src/weights.ts) and keys its
cache on. `data_sha256` is the data hash in the .ldf header, which covers the tensors' bytes only.
"""
import hashlib, json, struct, sys
from pathlib import Path

run = Path(sys.argv[1])
previous = json.loads(run.read_text()) if run.suffix == ".json" else None
if previous is None:
    state = json.loads((run / "state.json").read_text())
    stages = {
        name: {
            "steps": p["step"],
            "images": p["images"],
            "wall_minutes": round(p["seconds"] / 60, 1),
        }
        for name, p in state["stages"].items()
    }
models = {}
for path in map(Path, sys.argv[2:]):
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    meta = json.loads(raw[8 : 8 + n])["__metadata__"]
    tensors = json.loads(meta["tensors"])
    networks = sorted({t["name"].split(".")[0] for t in tensors})
    models[path.stem] = {
        "file": path.name,
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "data_sha256": meta["sha256"],
        "format_version": int(meta["format_version"]),
        "quantization": meta.get("policy"),
        "networks": networks,
        "config": json.loads(meta["config"])["name"],
    }
# With a previous manifest, every record but `models` is kept (`training`, `training_s128`, ...).
manifest = {"models": models, **{k: v for k, v in previous.items() if k != "models"}} if previous else {
    "models": models,
    "training": {
        "config": state["config"],
        "settings": state["settings"],
        "stages": stages,
        "hardware": "steps 0-5,000: 1× NVIDIA H100 80GB, burn 0.22.1 Vulkan backend; flow and baseline "
        "after 5,000: 1× NVIDIA H200, burn CUDA backend; f32",
        "note": "wall_minutes is per stage; flow and baseline shared one GPU for most of theirs "
        "(about 16 and 12 GPU-minutes to step 5,000, then 5.2 minutes side by side to 6,601 and 6,624); "
        "from flow step 5,000 on, the prior temperature s is 4 (issue 20's ablation); see BENCHMARKS.md",
        "data": "procedural landscapes, train split (seed 0x4C65_4469_466C_6F77, 'LeDiFlow'), "
        "image indices 0..steps×batch of that stream; evaluation uses the held-out split "
        "(seed 'HeldOut!'), never seen in training",
    },
}
print(json.dumps(manifest, indent=2))
