#!/usr/bin/env bash
# Runs on the GPU machine (device tool), in the repository root, with `carry` naming `carry`
# (carry/lediflow.xz: a stripped release build with --features cuda). A one-stage ablation
# (issue "Sharp in two steps"): every lane continues STAGE (flow or latent) of the shipped run
# (models/checkpoints/s64-landscapes) for the same STEPS (or MINUTES) with one lever changed,
# all lanes at once on the one GPU; then each lane, the shipped run itself, and EXTRA eval-only
# variants of the shipped run are scored with `lediflow eval` on the same seeds. Brings back
# ablation.tsv (one row per lane and solver × steps), probes.tsv (the per-stage probes), a tgz of
# the logs, reports and grids, and the best lane's STAGE weights (by SWD at Heun × 2) with its
# state.json. A lane that edits `latent_sampler` gets a fresh latent sampler on the shipped
# encoder and decoder.
#   usage: LANES='control; none loss.weighting=none; s2 prior_std_scale=2' STEPS=500 scripts/gpu-ablate.sh
#          STAGE=latent LANES='b256 settings.batch=256' EXTRA='lat8 --latent-steps 8' scripts/gpu-ablate.sh
set -uo pipefail
steps=${STEPS:-500}; minutes=${MINUTES:-6.5}; n=${N:-1000}; ema=${EMA:-0.99}; stage=${STAGE:-flow}
eval_args=${EVAL_ARGS:---solver midpoint,heun --steps 1,2,4}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p .gl  # the prelude unpacks Vulkan loaders from .gl; CUDA needs none
source "$here/gpu-prelude.sh"
# The shipped run: its checkpoint's EMA parts, and the latent sampler, which only the shipped
# int8 file holds (models/checkpoints/s64-landscapes/README.md says why).
src=base
rm -rf base && mkdir base && cp ../models/checkpoints/s64-landscapes/{state.json,log.csv,ema-*.ldf} base/ && chmod -R u+w base
./lediflow export --run ../models/landscapes-64.ldf --networks latent --quant f32 --check-samples 0 --out base/ema-latent.ldf | head -1
(while sleep 20; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) > gpu-util.log &
monitor=$!
left=$(( ${EVAL_SECONDS:-560} - SECONDS ))
evaluate() {  # name model [extra eval arguments]
  local name=$1 model=$2; shift 2
  timeout "$left" ./lediflow eval --backend cuda --eval-net ../models/eval --model "$model" --method lediflow \
    $eval_args --n "$n" --inpaint 0 --interpolation-pairs 0 --swd-images 1000 "$@" \
    --out "eval-$name" > "eval-$name.log" 2>&1 &
}
# The shipped run and its eval-only variants need no training: scored while the lanes train.
evaluate shipped "$src"
extra_names=()
IFS=';' read -ra extras <<< "${EXTRA:-}"
for spec in "${extras[@]}"; do
  read -ra words <<< "$spec"; [ ${#words[@]} -eq 0 ] && continue
  extra_names+=("${words[0]}"); echo "${words[@]:1} (eval only)" > "${words[0]}.lever"
  evaluate "${words[0]}" "$src" "${words[@]:1}"
done
IFS=';' read -ra specs <<< "${LANES:-control}"
names=(); pids=()
for spec in "${specs[@]}"; do
  read -ra words <<< "$spec"; [ ${#words[@]} -eq 0 ] && continue
  name=${words[0]}; names+=("$name")
  rm -rf "$name" && mkdir -p "$name" && cp "$src"/state.json "$src"/log.csv "$src"/ema-*.ldf "$name/" && chmod -R u+w "$name"
  python3 "$here/ablate-lane.py" "$name/state.json" "$stage" "$steps" "$ema" "${words[@]:1}" || exit 1
  if [[ "${words[*]:1}" == *latent_sampler* ]]; then
    ./lediflow export --run "$src" --networks encoder,decoder --quant f32 --check-samples 0 --out "$name/ema-aux.ldf.new" \
      && mv "$name/ema-aux.ldf.new" "$name/ema-aux.ldf" && rm "$name/ema-latent.ldf" || exit 1
  fi
  echo "${words[@]:1}" > "$name.lever"
  ./lediflow train --backend cuda --run "$name" --stage "$stage" --minutes "$minutes" --resume > "$name.out" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
kill $monitor
echo "training done at $SECONDS s; GPU utilisation, memory: $(tr '\n' ' ' < gpu-util.log)"
for name in "${names[@]}"; do
  echo "== $name: $(tr '\r' '\n' < "$name.out" | grep -E "$stage +step|error|Error" | tail -2)"
done
left=$(( ${EVAL_SECONDS:-560} - SECONDS ))
for name in "${names[@]}"; do evaluate "$name" "$name"; done
names+=("${extra_names[@]}")
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
    own = name if os.path.exists(f"{name}/state.json") else "base"
    step = json.load(open(own + "/state.json"))["stages"][os.environ.get("STAGE", "flow")]["step"]
    for r in csv.DictReader(open(path)):
        print("\t".join([name, lever, str(step), r["solver"], r["steps"], r["fd"], r["mmd"], r["swd"], r["precision"], r["recall"], r["ms_per_image"]]))
PY
cat "$OUT/ablation.tsv"
for name in shipped "${names[@]}"; do
  grep -E '^\| (encoder|latent sampler|prior draw)' "eval-$name/report.md" 2>/dev/null | sed "s/^/$name\t/"
done > "$OUT/probes.tsv"
cat "$OUT/probes.tsv"
best=$(awk -F'\t' '$1 != "shipped" && $2 !~ /eval only/ && $4 == "heun" && $5 == 2 && $8 != "" {print $8, $1}' "$OUT/ablation.tsv" | sort -g | head -1 | cut -d' ' -f2)
echo "best lane by SWD at heun x 2: $best"
if [ -n "$best" ]; then
  ./lediflow export --run "$best" --quant f16 --networks "$stage" --out "$OUT/best-$stage.ldf" --check-samples 0 2>&1 | head -3
  cp "$best/state.json" "$OUT/best-state.json"
fi
tar czf "$OUT/ablation.tgz" *.out eval-*/report.md eval-*/results.csv eval-*.log */log.csv gpu-util.log 2>/dev/null
ls -la "$OUT"
