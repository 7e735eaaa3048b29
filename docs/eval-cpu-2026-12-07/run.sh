#!/usr/bin/env bash
# CPU paired eval (n 500, seeds 0..499) of latent-chain settings against the default.
cd /work/main
B=/work/target-gpu/release/lediflow
E="--backend cpu --model models/landscapes-64.ldf --model models/baseline-64.ldf --n 500 --reference 2000 --method lediflow --solver midpoint --steps 2 --batch 100 --inpaint 0 --interpolation-pairs 0 --swd-images 500"
run() { name=$1; shift; echo "== $name $(date +%T): $*"; /usr/bin/time -f "%e s" nice -n 10 $B eval $E --out /work/cpueval/$name "$@" > /work/cpueval/$name.log 2>&1; echo "exit $? $(date +%T)"; grep '^| lediflow' /work/cpueval/$name/report.md; }
run e1 --latent-solver heun --latent-steps 8
run e3 --latent-solver midpoint --latent-steps 8
run e2 --latent-solver midpoint --latent-steps 4 --latent-time-power 1.25
