#!/usr/bin/env bash
# Runs on the GPU machine (device tool), one GPU: the same training stage on several burn
# backends in one call (issue 4: "find the fastest burn backend that runs"). `carry` names `.gl`
# and `carry`; carry/lediflow.xz must be a release build with the backends' features, e.g.
# `--features vulkan,cuda`. Each run: the s64 baseline stage, batch 64, fresh, STEPS steps; the
# medians of the logged windows after the first two (the first holds kernel compilation).
#   usage: STEPS=150 BACKENDS='cuda vulkan' scripts/gpu-train-backends.sh
set -uo pipefail
source "$(dirname "$0")/gpu-prelude.sh" > /dev/null
steps=${STEPS:-150}
for backend in ${BACKENDS:-cuda vulkan}; do
  start=$SECONDS
  timeout "${RUN_SECONDS:-270}" ./lediflow train --run "b-$backend" --stage baseline --config s64 --steps "$steps" \
    --seed 0 --batch 64 --checkpoint-every 100000 --sample-every 100000 --backend "$backend" > "b-$backend.log" 2>&1
  code=$?
  echo "$backend: exit $code after $((SECONDS - start)) s"
  [ $code -ne 0 ] && tr '\r' '\n' < "b-$backend.log" | grep -v '^\s*$' | tail -5
  cp "b-$backend/log.csv" "$OUT/$backend.csv" 2>/dev/null
done
python3 - "$OUT" <<'PY'
import csv, os, statistics, sys
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    if f.endswith(".csv"):
        rows = list(csv.DictReader(open(os.path.join(d, f))))
        steady = [float(r["images_per_second"]) for r in rows[2:]]
        first = rows[0]["seconds"] if rows else "?"
        if steady:
            print(f"{f[:-4]}: median {statistics.median(steady):.0f} images/s over {len(steady)} windows; "
                  f"first logged step at {first} s; last loss {rows[-1]['loss']}")
PY
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
