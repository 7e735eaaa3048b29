#!/bin/sh
# Runs one of bench/webgpu-node's scripts (Dawn, npm `webgpu`, in Node) on the dev machine, with
# Mesa's lavapipe as its Vulkan: Node runs inside the Debian 13 root that the Firefox tests use
# (scripts/firefox-root.sh makes it), which has lavapipe; the host's Node and this checkout are
# bound into it. lavapipe is a CPU: times here say nothing about a GPU's, but the scripts run end
# to end (dispatch counts, pixels, the kernel-times table), so a device call is not spent on a
# script that fails. Arguments: the script and its arguments, paths relative to the checkout.
#
#   scripts/dawn-local.sh bench/webgpu-node/kernel-times.mjs --model models/tiny-test.ldf --config lediflow:midpoint:2
set -eu
ROOT="${LEDIFLOW_FIREFOX_ROOT:-$HOME/.cache/lediflow/firefox-trixie}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
NODE="$(readlink -f "$(command -v node)")"
if [ ! -x "$ROOT/usr/bin/firefox-esr" ] || [ ! -e "$ROOT/usr/share/vulkan/icd.d/lvp_icd.json" ]; then
  echo "no Debian 13 root with lavapipe at $ROOT: run scripts/firefox-root.sh setup first" >&2
  exit 2
fi
if [ ! -d "$HERE/bench/webgpu-node/node_modules/webgpu" ]; then
  echo "npm webgpu is not installed: (cd bench/webgpu-node && npm ci)" >&2
  exit 2
fi
if [ "$(id -u)" = 0 ]; then ns="--mount --propagation private"; else ns="--user --map-root-user --mount"; fi
# shellcheck disable=SC2086
exec unshare $ns sh -c '
  root=$1 checkout=$2 node=$3
  shift 3
  for d in dev proc sys; do mount --rbind "/$d" "$root/$d"; done
  mkdir -p "$root/checkout" "$root/host-node"
  mount --bind "$checkout" "$root/checkout"
  mount --bind "$(dirname "$node")" "$root/host-node"
  exec chroot "$root" /usr/bin/env HOME=/root sh -c "cd /checkout && exec /host-node/$(basename "$node") \"\$@\"" sh "$@"
' sh "$ROOT" "$HERE" "$NODE" "$@"
