#!/usr/bin/env bash
# Runs on a two-GPU machine (device tool): the two-GPU check (scripts/gpu-ddp-check.sh), then
# 100 steps on one GPU and 100 steps on two GPUs at twice the batch, for the scaling numbers.
set -uo pipefail
scripts/gpu-ddp-check.sh 100 90
source scripts/gpu-prelude.sh > /dev/null
for spec in "cuda1 1 64" "cuda2w 2 128"; do
  set -- $spec
  timeout 50 ./lediflow train --run "$1" --stage baseline --config s64 --steps 100 --seed 0 --checkpoint-every 100000 \
    --sample-every 100000 --backend cuda --devices "$2" --batch "$3" > "$OUT/$1.log" 2>&1
  echo "$1 exit $?"; cp "$1/log.csv" "$OUT/$1.csv" 2>/dev/null
done
