#!/usr/bin/env bash
# Runs on the GPU machine (device tool), in the repository root, with `carry` naming `carry`
# (carry/lediflow.xz: a stripped release build with --features cuda). A flow-stage ablation
# (issue "Sharp in two steps"): every lane continues the shipped run
# (models/checkpoints/s64-landscapes: frozen aux and latent networks, flow at 5,000 steps) for
# the same STEPS with one lever changed, all lanes at once on the one GPU; then each lane, and
# the shipped run itself, is scored with `lediflow eval` on the same seeds. Brings back
# ablation.tsv (one row per lane and solver × steps), a tgz of the logs, reports and grids, and
# the best lane's flow weights (by SWD at Heun × 2) with its state.json.
#   usage: LANES='control; none loss.weighting=none; s2 prior_std_scale=2' STEPS=500 scripts/gpu-ablate.sh
set -uo pipefail
steps=${STEPS:-500}; minutes=${MINUTES:-6.5}; n=${N:-1000}; ema=${EMA:-0.99}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p .gl  # the prelude unpacks Vulkan loaders from .gl; CUDA needs none
source "$here/gpu-prelude.sh"
src=../models/checkpoints/s64-landscapes
(while sleep 20; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) > gpu-util.log &
monitor=$!
IFS=';' read -ra specs <<< "${LANES:-control}"
names=(); pids=()
for spec in "${specs[@]}"; do
  read -ra words <<< "$spec"; [ ${#words[@]} -eq 0 ] && continue
  name=${words[0]}; names+=("$name")
  rm -rf "$name" && mkdir -p "$name" && cp "$src"/state.json "$src"/log.csv "$src"/ema-*.ldf "$name/" && chmod -R u+w "$name"
  python3 "$here/ablate-lane.py" "$name/state.json" "$steps" "$ema" "${words[@]:1}" || exit 1
  echo "${words[@]:1}" > "$name.lever"
  ./lediflow train --backend cuda --run "$name" --stage flow --minutes "$minutes" --resume > "$name.out" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
kill $monitor
echo "training done at $SECONDS s; GPU utilisation, memory: $(tr '\n' ' ' < gpu-util.log)"
for name in "${names[@]}"; do
  echo "== $name: $(tr '\r' '\n' < "$name.out" | grep -E 'flow +step|error|Error' | tail -2)"
done
left=$(( ${EVAL_SECONDS:-560} - SECONDS ))
for name in shipped "${names[@]}"; do
  model=$name; [ "$name" = shipped ] && model=$src
  timeout "$left" ./lediflow eval --backend cuda --eval-net ../models/eval --model "$model" --method lediflow \
    --solver midpoint,heun --steps 1,2,4 --n "$n" --inpaint 0 --interpolation-pairs 0 --swd-images 1000 \
    --out "eval-$name" > "eval-$name.log" 2>&1 &
done
wait
echo "eval done at $SECONDS s"
python3 - "${names[@]}" <<'PY' > "$OUT/ablation.tsv"
import csv, json, os, sys
print("lane\tlever\tflow_step\tsolver\tsteps\tfd\tmmd\tswd\tprecision\trecall\tms_per_image")
for name in ["shipped"] + sys.argv[1:]:
    path = f"eval-{name}/results.csv"
    if not os.path.exists(path):
        print(f"{name}\t-\t-\tno results\t\t\t\t\t\t\t"); continue
    lever = "" if name == "shipped" else " ".join(open(f"{name}.lever").read().split()) if os.path.exists(f"{name}.lever") else ""
    step = json.load(open(("../models/checkpoints/s64-landscapes" if name == "shipped" else name) + "/state.json"))["stages"]["flow"]["step"]
    for r in csv.DictReader(open(path)):
        print("\t".join([name, lever, str(step), r["solver"], r["steps"], r["fd"], r["mmd"], r["swd"], r["precision"], r["recall"], r["ms_per_image"]]))
PY
cat "$OUT/ablation.tsv"
best=$(awk -F'\t' '$1 != "shipped" && $4 == "heun" && $5 == 2 && $8 != "" {print $8, $1}' "$OUT/ablation.tsv" | sort -g | head -1 | cut -d' ' -f2)
echo "best lane by SWD at heun x 2: $best"
if [ -n "$best" ]; then
  ./lediflow export --run "$best" --quant f16 --networks flow --out "$OUT/best-flow.ldf" --check-samples 0 2>&1 | head -3
  cp "$best/state.json" "$OUT/best-state.json"
fi
tar czf "$OUT/ablation.tgz" *.out eval-*/report.md eval-*/results.csv eval-*.log */log.csv gpu-util.log 2>/dev/null
ls -la "$OUT"
