#!/usr/bin/env bash
# Runs on the GPU machine (device tool), `carry` naming `carry`: carry/lediflow.xz (a stripped
# `--features cuda` release build) and carry/lat (state.json + ema-latent.ldf of a latent-sampler
# run on top of the shipped run's frozen encoder, decoder and flow; see scripts/gpu-ablate.sh,
# STAGE=latent). Continues the latent stage for MINUTES, exports the file that would ship (int8:
# latent, decoder, encoder, flow) and scores it with `lediflow eval` at several latent-sampler
# step counts, next to the shipped baseline, in one call. Brings back the int8 file, the latent
# network's f16 EMA weights (to commit to models/checkpoints), the run's state and log, and the
# eval reports (evals.tgz).
#   usage: MINUTES=3.5 N=2000 scripts/gpu-latent-ship.sh
set -uo pipefail
minutes=${MINUTES:-3.5}; n=${N:-2000}
source "$(dirname "$0")/gpu-prelude.sh"
src=../models/checkpoints/s64-landscapes
rm -rf lat ship && mkdir -p lat ship
cp ../carry/lat/state.json ../carry/lat/ema-latent.ldf "$src"/ema-flow.ldf "$src"/ema-baseline.ldf "$src"/log.csv lat/ && chmod -R u+w lat
./lediflow export --run "$src" --networks encoder,decoder --quant f32 --check-samples 0 --out lat/ema-aux.ldf 2>&1 | head -1
./lediflow train --backend cuda --run lat --stage latent --minutes "$minutes" --resume > lat.out 2>&1
echo "trained at $SECONDS s: $(tr '\r' '\n' < lat.out | grep -E 'latent +step|rror' | tail -1)"
./lediflow export --run lat --quant int8 --networks latent,decoder,encoder,flow --out ship/landscapes-64.ldf --check-samples 0 2>&1 | head -1
./lediflow export --run lat --quant f16 --networks latent --out "$OUT/ema-latent.ldf" --check-samples 0 2>&1 | head -1
cp lat/state.json lat/log.csv ship/landscapes-64.ldf "$OUT/"
left=$(( ${EVAL_SECONDS:-565} - SECONDS ))
common=(--backend cuda --eval-net ../models/eval --n "$n" --inpaint 0 --interpolation-pairs 0 --swd-images 1000)
timeout "$left" ./lediflow eval "${common[@]}" --model ship/landscapes-64.ldf --model ../models/baseline-64.ldf \
  --method lediflow,baseline --solver midpoint,heun --steps 1,2,4,8,16,32 --latent-steps 8 --out eval-lat8 > eval-lat8.log 2>&1 &
timeout "$left" ./lediflow eval "${common[@]}" --model ship/landscapes-64.ldf \
  --method lediflow --solver euler,midpoint,heun --steps 1,2,4 --latent-steps 16 --out eval-lat16 > eval-lat16.log 2>&1 &
timeout "$left" ./lediflow eval "${common[@]}" --model ship/landscapes-64.ldf \
  --method lediflow --solver euler,midpoint,heun --steps 2 --latent-steps 4 --out eval-lat4 > eval-lat4.log 2>&1 &
wait
echo "eval done at $SECONDS s"
for e in eval-lat4 eval-lat8 eval-lat16; do echo "== $e"; cat "$e/results.csv" 2>/dev/null | cut -d, -f1-12; grep -E '^\| (encoder|latent sampler|prior draw)' "$e/report.md"; done
tar czf "$OUT/evals.tgz" eval-lat*/ eval-lat*.log lat.out
ls -la "$OUT"
