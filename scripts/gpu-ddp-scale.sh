#!/usr/bin/env bash
# Runs on a two-GPU machine (device tool) with `carry` naming `.gl` and `carry/lediflow.xz` (a
# `cuda` build): data-parallel scaling at 64 and 128 images per GPU (1 GPU at batch B against 2
# GPUs at 2B, the s64 baseline stage), each run under the step watchdog so that a hung collective
# ends as an error (exit 75) instead of using up the call.
#   usage: STEPS=150 [SPECS='g1b256 1 256,g2b512 2 512,g2b512-bucket 2 512 bucket'] scripts/gpu-ddp-scale.sh
# (a fourth field is the `--grad-sync` mode, else the trainer's default; a run named g2bN-anything is compared with g1b(N/2))
set -uo pipefail
source "$(dirname "$0")/gpu-prelude.sh" > /dev/null
steps=${STEPS:-150}
# NAME DEVICES BATCH, comma-separated (the default: 64 and 128 images per GPU).
IFS=, read -r -a specs <<< "${SPECS:-g1b64 1 64,g2b128 2 128,g1b128 1 128,g2b256 2 256}"
for spec in "${specs[@]}"; do
  set -- $spec
  sync=${4:+--grad-sync $4}
  start=$SECONDS
  timeout "${RUN_SECONDS:-100}" ./lediflow train --run "$1" --stage baseline --config s64 --steps "$steps" --seed 0 \
    --checkpoint-every 100000 --sample-every 100000 --backend cuda --devices "$2" --batch "$3" --step-timeout 45 \
    $sync > "$1.log" 2>&1
  code=$?
  echo "$1: exit $code after $((SECONDS - start)) s, $(($(wc -l < "$1/log.csv" 2>/dev/null || echo 1) - 1)) rows logged"
  [ $code -ne 0 ] && tr '\r' '\n' < "$1.log" | grep -v '^\s*$' | tail -5
  cp "$1/log.csv" "$OUT/$1.csv" 2>/dev/null
done
python3 - "$OUT" <<'PY'
import csv, os, statistics, sys
d = sys.argv[1]
ips = {}
names = sorted(f[:-4] for f in os.listdir(d) if f.endswith(".csv"))
for name in names:
    path = os.path.join(d, name + ".csv")
    if not os.path.exists(path):
        continue
    rows = list(csv.DictReader(open(path)))
    steady = [float(r["images_per_second"]) for r in rows[2:]]
    if steady:
        ips[name] = statistics.median(steady)
        print(f"{name}: median {ips[name]:.0f} images/s over {len(steady)} windows")
for one in [n for n in ips if n.startswith("g1b")]:
    for two in [n for n in ips if n.split("-")[0] == f"g2b{2 * int(one[3:])}"]:
        print(f"scaling {two} / {one}: {ips[two] / ips[one]:.2f}x")
# Same global batch and seed, two ways of averaging: the loss sequences should agree closely.
for two in [n for n in ips if n.endswith("-bucket")]:
    base = os.path.join(d, two.split("-")[0] + ".csv")
    if os.path.exists(base):
        a = {r["step"]: float(r["loss"]) for r in csv.DictReader(open(base))}
        b = {r["step"]: float(r["loss"]) for r in csv.DictReader(open(os.path.join(d, two + ".csv")))}
        rel = [abs(a[k] - b[k]) / abs(a[k]) for k in a if k in b]
        if rel:
            print(f"loss {two} vs {two.split('-')[0]}: max relative difference {max(rel):.2e} over {len(rel)} logged steps")
PY
nvidia-smi topo -m | head -4
