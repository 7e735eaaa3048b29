#!/usr/bin/env bash
# Runs on the GPU machine (device tool), in the repository root, with `carry` naming `.gl` and
# `carry` (carry/lediflow.xz: a stripped `--release --features wgpu,cuda,kernels` build). Starts
# the 128-px model from the shipped 64-px one (`lediflow grow`: same token grids, patch weights
# resized), then in one call:
#   1. the evaluation network at 128 px (`lediflow eval-net --size 128`, EVALNET_ARGS), beside
#   2. the aux stage at 128 px for AUX_MINUTES, then
#   3. the latent sampler, the flow model and the baseline side by side (scripts/gpu-train-lanes.sh)
#      until the call's MINUTES are spent.
# Brings back $OUT/aux/aux.tgz (the grown run's state, log, grids and f16 aux part), each lane's
# lane.tgz and f16 part, and $OUT/evalnet-128.tgz: merge with scripts/merge-lanes.py.
#   usage: [AUX_MINUTES=2.5] [EVALNET_ARGS='--steps 1000'] scripts/gpu-grow.sh MINUTES
set -uo pipefail
minutes=$1
root=$PWD
source "$(dirname "$0")/gpu-prelude.sh"
rm -rf run128 && ./lediflow grow --from ../models/landscapes-64.ldf --from ../models/baseline-64.ldf \
  --settings-from ../models/checkpoints/s64-landscapes --name s128 --quant f32 --out run128 || exit 2
# Cut off before the call's end, so that the lanes' results still come back.
# shellcheck disable=SC2086
timeout "$(python3 -c "print(int($minutes * 60 - 35))")" \
  ./lediflow eval-net --backend cuda --size 128 --out evalnet-128 ${EVALNET_ARGS:-} > evalnet.out 2>&1 &
evalnet=$!
python3 ../scripts/ablate-lane.py run128/state.json aux 1000000 0.998
./lediflow train --backend cuda --run run128 --stage aux --minutes "${AUX_MINUTES:-2.5}" --resume > aux.out 2>&1
echo "aux: exit $? at $SECONDS s"; tr '\r' '\n' < aux.out | grep -v '^\s*$' | awk 'NR % 40 == 1 || /error|wrote|stopped/' | tail -c 2000
mkdir -p "$OUT/aux"
./lediflow export --run run128 --quant f16 --networks decoder,encoder --out run128/ema-aux.ldf --check-samples 0 2>&1 | tail -1
# The lanes start from the grown run with its trained aux part (its online weights and optimiser
# stay here: the lanes read the EMA parts only).
last=$(ls run128/samples/aux-*.png 2>/dev/null | tail -1)
(cd run128 && tar czf "$OUT/aux/aux.tgz" state.json log.csv ema-aux.ldf ${last:+samples/$(basename "$last")})
rm -rf "$root/carry/run" && mkdir -p "$root/carry/run"
cp run128/state.json run128/log.csv run128/ema-aux.ldf run128/ema-latent.ldf run128/ema-flow.ldf \
  run128/ema-baseline.ldf "$root/carry/run/"
left=$(python3 -c "print(round(($minutes * 60 - $SECONDS - 45) / 60, 2))")
echo "lanes for $left minutes from $SECONDS s"
(cd "$root" && BACKEND=cuda bash scripts/gpu-train-lanes.sh "$left" latent+flow+baseline)
wait $evalnet; echo "eval-net: exit $? at $SECONDS s"; tail -c 1500 evalnet.out
tar czf "$OUT/evalnet-128.tgz" evalnet-128 evalnet.out
ls -la "$OUT"/* "$OUT"/*/*
