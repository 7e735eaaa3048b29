#!/usr/bin/env bash
# Runs on the GPU machine (device tool). Trains several independent stages at once, one process
# per stage ("lane"), sharing the GPU, so one 10-minute call advances the latent sampler, the
# flow model and the baseline together. (Measured on an H100: one lane already keeps the GPU at
# 100 %, so lanes share its throughput rather than add to it.) Each lane works on its own copy of
# carry/run and brings back $OUT/<stage>/lane.tgz (state.json, log.csv, last grid) and its f16 EMA
# part; merge them into the run with scripts/merge-lanes.py.
# LANE_<stage>='EMA_DECAY [key=value ...]' edits one lane's copy of the run's state through
# scripts/ablate-lane.py (LANE_latent='0.999 settings.batch=256'), its step target raised out of
# the way so that MINUTES ends the lane; ARGS_<stage> adds `lediflow train` arguments to one lane
# only. KEEP=1 continues the
# lanes that an earlier call left in .devrun on the same (still warm) machine, and stops if there
# are none, rather than starting again from the carried run.
# COOLDOWN=MINUTES anneals every lane: its learning rate falls linearly to zero over the last
# MINUTES of the call's (`lediflow train --cooldown-minutes`).
# BACKEND (vulkan by default; cuda for a `--features cuda` build) picks the device. With
# EVAL_ARGS set and a flow and a baseline lane, the files that would ship are exported (int8; the
# latent sampler from the latent lane when there is one), the README's grids drawn from them, and
# `lediflow eval` run on them once per ';'-separated argument set of EVAL_ARGS; they come back as
# $OUT/landscapes-64.ldf and $OUT/ship-rest.tgz (baseline file, grids, reports). The tool returns
# at most 8 files of 16 MiB each: no file goes into one archive with the 14.6 MB LeDiFlow file.
# SIDE=128 names them landscapes-128.ldf and baseline-128.ldf, and EVAL_NET (the prelude's
# eval_sets) picks the evaluation network of that size.
#   usage: [BACKEND=cuda] [EVAL_ARGS='--n 2000 ...; --n 2000 ...'] scripts/gpu-train-lanes.sh MINUTES latent+flow+baseline [lediflow train args for every lane...]
set -uo pipefail
minutes=$1; lanes=$2; shift 2
source "$(dirname "$0")/gpu-prelude.sh"
(while sleep 20; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) > gpu-util.log &
monitor=$!
pids=()
for stage in ${lanes//+/ }; do
  if [ "${KEEP:-0}" = 1 ]; then
    [ -f "$stage/state.json" ] || { echo "KEEP=1 but no lane $stage here (a fresh machine): stopping" >&2; kill $monitor; exit 3; }
  else
    # EMA parts come from carry/run, or, when it carries none (the tool's 64 MiB limit), from the
    # run of that SIDE in the repository.
    parts=$(ls ../carry/run/ema*.ldf 2>/dev/null || ls ../models/checkpoints/s${SIDE:-64}-landscapes/ema-*.ldf)
    rm -rf "$stage" && mkdir -p "$stage" && cp ../carry/run/state.json ../carry/run/log.csv $parts "$stage/" && chmod -R u+w "$stage"
    # The checkpoint keeps no latent sampler (its README says why): the shipped file's, as f32.
    [ -f "$stage/ema-latent.ldf" ] || ./lediflow export --run ../models/landscapes-64.ldf --networks latent --quant f32 \
      --check-samples 0 --out "$stage/ema-latent.ldf" | tail -1
    lane_name="LANE_$stage"
    # shellcheck disable=SC2086
    [ -n "${!lane_name:-}" ] && python3 ../scripts/ablate-lane.py "$stage/state.json" "$stage" 1000000 ${!lane_name}
  fi
  extra_name="ARGS_$stage"
  # shellcheck disable=SC2086
  ./lediflow train --backend "${BACKEND:-vulkan}" --run "$stage" --stage "$stage" --minutes "$minutes" --resume \
    ${COOLDOWN:+--cooldown-minutes "$COOLDOWN"} "$@" ${!extra_name:-} \
    > "$stage.out" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
kill $monitor
echo "trained at $SECONDS s. GPU utilisation, memory (every 20 s):"; tr '\n' ' ' < gpu-util.log; echo
for stage in ${lanes//+/ }; do
  echo "== $stage"; tr '\r' '\n' < "$stage.out" | grep -v '^\s*$' | awk 'NR % 40 == 1 || /error|wrote|stopped/' | tail -c 3000
  mkdir -p "$OUT/$stage"
  last=$(ls "$stage"/samples/$stage-*.png 2>/dev/null | tail -1)
  (cd "$stage" && tar czf "$OUT/$stage/lane.tgz" state.json log.csv ${last:+samples/$(basename "$last")})
  # $OUT takes files of at most 16 MiB: each lane brings back only its own network's EMA weights.
  ./lediflow export --run "$stage" --quant f16 --networks "$stage" --out "$OUT/$stage/ema-$stage.ldf" --check-samples 0 2>&1 | tail -3
done

if [ -n "${EVAL_ARGS:-}" ] && [ -d flow ] && [ -d baseline ]; then
  # The files that would ship: int8 exports of the lanes, scored as shipped, and the README's
  # grids from them (same seeds as before: 100..107).
  rm -rf ship ship-run && mkdir -p ship ship-run
  cp flow/state.json ship-run/
  ./lediflow export --run flow --quant f32 --networks decoder,encoder,flow --out ship-run/ema-a.ldf --check-samples 0 2>&1 | tail -1
  if [[ "+$lanes+" == *+latent+* ]]; then latent_run=latent; else latent_run=flow; fi
  ./lediflow export --run "$latent_run" --quant f32 --networks latent --out ship-run/ema-latent.ldf --check-samples 0 2>&1 | tail -1
  # SHIP_QUANT_ARGS: more export options for the LeDiFlow file (e.g. `--quant-network
  # latent=int4-g64`); then an all-int8 file is scored too, with EVAL_INT8_ARGS.
  # shellcheck disable=SC2086
  ./lediflow export --run ship-run --quant int8 ${SHIP_QUANT_ARGS:-} --networks latent,decoder,encoder,flow --out ship/landscapes-${SIDE:-64}.ldf 2>&1 | tail -7
  ./lediflow export --run baseline --quant int8 --networks baseline --out ship/baseline-${SIDE:-64}.ldf 2>&1 | tail -2
  if [ -n "${SHIP_QUANT_ARGS:-}" ] && [ -n "${EVAL_INT8_ARGS:-}" ]; then
    ./lediflow export --run ship-run --quant int8 --networks latent,decoder,encoder,flow --out all-int8.ldf --check-samples 0 2>&1 | tail -1
    EVAL_ARGS=$EVAL_INT8_ARGS eval_sets all-int8.ldf ship/baseline-${SIDE:-64}.ldf ship/eval-all-int8
  fi
  for grid in lediflow:midpoint:1 lediflow:midpoint:2 baseline:midpoint:2 baseline:midpoint:32; do
    IFS=: read -r method solver steps <<< "$grid"
    file=ship/landscapes-${SIDE:-64}.ldf; [ "$method" = baseline ] && file=ship/baseline-${SIDE:-64}.ldf
    ./lediflow sample --backend "${BACKEND:-vulkan}" --model "$file" \
      --method "$method" --solver "$solver" --steps "$steps" --n 8 --seed 100 --out "ship/samples-$method-$solver$steps.png" 2>&1 | tail -1
  done
  eval_sets ship/landscapes-${SIDE:-64}.ldf ship/baseline-${SIDE:-64}.ldf ship/eval
  mv ship/landscapes-${SIDE:-64}.ldf "$OUT/"
  tar czf "$OUT/ship-rest.tgz" ship
  size=$(stat -c %s "$OUT/ship-rest.tgz"); [ "$size" -gt 16000000 ] && echo "warning: ship-rest.tgz is $size bytes: over the tool's 16 MiB, it will not come back" >&2
fi
ls -la "$OUT"/*
exit $status
