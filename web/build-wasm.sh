#!/usr/bin/env bash
# Builds the browser runtime as two modules, loaded on demand by the worker (web/src/worker.ts):
#   web/pkg/webgpu/  lediflow-wasm with `webgpu`: burn's WebGPU backend and our WGSL kernels;
#   web/pkg/cpu/     lediflow-wasm with `cpu`: burn's ndarray backend, the fallback without WebGPU.
# Each is crate/wasm for wasm32, bindings from wasm-bindgen (the exact version in Cargo.lock), then
# binaryen's wasm-opt from npm (Debian's binaryen 108 breaks the module). VARIANTS picks a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-$HOME/.cache/lediflow/target}
rm -rf web/pkg/lediflow.js web/pkg/lediflow_bg.wasm web/pkg/*.d.ts web/pkg/package.json
for variant in ${VARIANTS:-webgpu cpu}; do
  # The two feature sets share one target directory; cargo keeps their artefacts apart, but the
  # final .wasm has one path, so it is bound before the next build replaces it.
  # The WebGPU module is mostly cubecl's kernel generator, host code whose output is cached per
  # kernel: opt-level "z" and `wasm-opt -Oz` make it 17 % smaller gzipped (BENCHMARKS.md, "Module
  # size", issue 22). The CPU module keeps "s", since its ndarray loops are the image's compute.
  # `strip` off: wasm-opt strips the names anyway, and wasm-bindgen reads the `target_features`
  # section that stripping drops.
  if [ "$variant" = webgpu ]; then
    export CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL=z CARGO_PROFILE_WASM_RELEASE_STRIP=false
    opt_level=-Oz
  else
    unset CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL CARGO_PROFILE_WASM_RELEASE_STRIP
    opt_level=-Os
  fi
  cargo rustc -p lediflow-wasm --lib --locked --profile wasm-release --target wasm32-unknown-unknown \
    --no-default-features --features "$variant" --crate-type cdylib --target-dir "$target_dir"
  out="web/pkg/$variant"
  rm -rf "$out"
  wasm-bindgen --target web --out-dir "$out" --out-name lediflow "$target_dir/wasm32-unknown-unknown/wasm-release/lediflow_wasm.wasm"
  if [ "${WASM_OPT:-1}" = 1 ]; then
    node_modules/.bin/wasm-opt "$opt_level" --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-reference-types \
      "$out/lediflow_bg.wasm" -o "$out/lediflow_bg.wasm"
  fi
  raw=$(stat -c %s "$out/lediflow_bg.wasm"); gz=$(gzip -9c "$out/lediflow_bg.wasm" | wc -c)
  echo "$out/lediflow_bg.wasm: $raw bytes, $gz gzipped"
done
