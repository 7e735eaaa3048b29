#!/usr/bin/env bash
# Runs on the GPU machine (device tool), one GPU (issue 4: where a training step's time goes).
# `carry` names `.gl` and `carry`; carry/lediflow.xz is the default GPU build, and every
# carry/lediflow-NAME.xz another build to compare with it (e.g. `--features cuda,fusion,autotune`:
# burn's kernel fusion and cubecl's autotune). For each, on the s64 baseline stage, batch BATCH
# (64), CUDA, f32:
#   1. a plain run of STEPS steps, with `nvidia-smi dmon` sampling the GPU's utilisation;
#   2. a run of PROFILE_STEPS steps with cubecl's profiling logger (to stderr), which times every
#      kernel (serialising them), summarised by kernel name (scripts/kernel-profile.py);
# then the PyTorch twin at the same batch (bench/pytorch_twin.py), for the ratio in one call.
#   usage: STEPS=150 PROFILE_STEPS=40 [SKIP_PLAIN=1] [SKIP_TWIN=1] [AUTOTUNE_LEVEL=balanced] scripts/gpu-train-profile.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/gpu-prelude.sh" > /dev/null
steps=${STEPS:-150}
batch=${BATCH:-64}
builds=lediflow
for packed in ../carry/lediflow-*.xz; do
  [ -f "$packed" ] || continue
  name=$(basename "$packed" .xz)
  python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$packed" "$name"
  chmod +x "$name"
  builds="$builds $name"
done

devrun=$PWD
mkdir -p results
train() { # build run-dir steps log
  timeout "${RUN_SECONDS:-200}" "$devrun/$1" train --run "$2" --stage baseline --config s64 --steps "$3" --seed 0 \
    --batch "$batch" --checkpoint-every 100000 --sample-every 100000 --backend cuda > "$4" 2>&1
}

plain_run() { # build
  local build=$1
  nvidia-smi dmon -s u -d 1 > "$build.dmon" 2>&1 & dmon=$!
  start=$SECONDS
  began=$(date +%s.%N)
  train "$build" "plain-$build" "$steps" "plain-$build.log"
  echo "$build plain: exit $? after $((SECONDS - start)) s"
  # Where the process's time goes outside the stage clock: its start and end, and when each file
  # of the run directory was last written (the checkpoint and sample grid at the end of the stage).
  { echo "process-start $began"; echo "process-end $(date +%s.%N)"
    echo "run-dir-birth $(stat -c %W "plain-$build")"
    find "plain-$build" -type f -printf '%T@ %p\n' | sort -n; } > "results/$build-timeline.txt"
  python3 "$here/train-timeline.py" "results/$build-timeline.txt" "plain-$build/log.csv" || true
  kill $dmon 2>/dev/null
  cp "plain-$build/log.csv" "results/$build.csv" 2>/dev/null
  cp "$build.dmon" "results/$build.dmon" 2>/dev/null
  tr '\r' '\n' < "plain-$build.log" | grep -iE 'error|panic' | head -3
}

profiled_run() { # build
  local build=$1
  # The profiling logger is configured per process from ./cubecl.toml: a directory of its own,
  # with the same settings as gpu-prelude.sh's otherwise.
  mkdir -p "prof-$build"
  cat > "prof-$build/cubecl.toml" <<TOML
[compilation]
cache = true
[autotune]
level = "${AUTOTUNE_LEVEL:-minimal}"
[environment]
path = { directory = "$devrun/cache" }
[profiling.logger]
level = "basic"
stderr = true
TOML
  start=$SECONDS
  (cd "prof-$build" && train "$build" run "${PROFILE_STEPS:-40}" train.log)
  echo "$build profiled: exit $? after $((SECONDS - start)) s"
  cp "prof-$build/run/log.csv" "results/$build-profiled.csv" 2>/dev/null
  tr '\r' '\n' < "prof-$build/train.log" > "prof-$build/kernels.log"
  head -c 20000 "prof-$build/kernels.log" > "results/$build-profile-head.txt"
  # The last steps in launch order, to tell which part of the step each kernel belongs to.
  tail -c 600000 "prof-$build/kernels.log" | gzip > "results/$build-profile-tail.txt.gz"
  python3 "$here/kernel-profile.py" "prof-$build/kernels.log" "prof-$build/run/log.csv" --names 25 \
    | tee "results/$build-kernels.txt" | head -60
}

for build in $builds; do
  [ "${SKIP_PLAIN:-0}" = 1 ] || plain_run "$build"
  profiled_run "$build"
done

[ "${SKIP_TWIN:-0}" = 1 ] || env -u LD_LIBRARY_PATH python3 "$here/../bench/pytorch_twin.py" --all --batch "$batch" \
  --steps 120 --warmup 20 2>&1 | grep "img/s"
python3 "$here/train-summary.py" results
tar czf "$OUT/train-profile.tgz" results
