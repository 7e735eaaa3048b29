#!/usr/bin/env bash
# Builds the browser runtime: crate/ for wasm32 with the `web,webgpu` features, bindings from
# wasm-bindgen (the exact version in Cargo.lock), then binaryen's wasm-opt from npm (Debian's
# binaryen 108 breaks the module). Output: web/pkg/ (lediflow.js, lediflow_bg.wasm, .d.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-$HOME/.cache/lediflow/target}
cargo rustc -p lediflow --lib --locked --profile wasm-release --target wasm32-unknown-unknown \
  --no-default-features --features web,webgpu --crate-type cdylib --target-dir "$target_dir"
rm -rf web/pkg
wasm-bindgen --target web --out-dir web/pkg "$target_dir/wasm32-unknown-unknown/wasm-release/lediflow.wasm"
if [ "${WASM_OPT:-1}" = 1 ]; then
  node_modules/.bin/wasm-opt -Os --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types \
    web/pkg/lediflow_bg.wasm -o web/pkg/lediflow_bg.wasm
fi
raw=$(stat -c %s web/pkg/lediflow_bg.wasm); gz=$(gzip -9c web/pkg/lediflow_bg.wasm | wc -c)
echo "web/pkg/lediflow_bg.wasm: $raw bytes, $gz gzipped"
