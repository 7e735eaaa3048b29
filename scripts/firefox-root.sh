#!/usr/bin/env bash
# Firefox with WebGPU for the browser tests. Debian 12's firefox-esr (140) has no WebGPU; Debian
# 13's (153) runs it headless on Mesa's lavapipe (software Vulkan, no GPU needed). This makes a
# Debian 13 root with `debootstrap --variant=minbase trixie` and installs firefox-esr + lavapipe
# in it (about 1.6 GB), cached in $LEDIFLOW_FIREFOX_ROOT (default ~/.cache/lediflow/firefox-trixie)
# for later runs; tests/web/firefox-root.sh starts that Firefox (chroot in a private mount
# namespace). See tests/web/README.md.
#
#   scripts/firefox-root.sh setup    make the root unless it is already made (idempotent)
#   scripts/firefox-root.sh status   say whether it is made, and if not why
#
# `setup` exits 0 even when the root cannot be made (no root and no sudo, no debootstrap and no
# apt-get, no network): it writes why to "$ROOT.why", which the Firefox tests print when they skip.
set -euo pipefail

ROOT="${LEDIFLOW_FIREFOX_ROOT:-$HOME/.cache/lediflow/firefox-trixie}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="firefox-esr mesa-vulkan-drivers libvulkan1 fonts-dejavu-core"
# What the stamp holds: a root made for another list is made again.
STAMP_TEXT="trixie minbase + $PACKAGES"
STAMP="$ROOT/.lediflow-root"
WHY="$ROOT.why"

ready() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_TEXT" ] && [ -x "$ROOT/usr/bin/firefox-esr" ]; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

# Records why the root could not be made and returns 0: the tests skip, saying so.
give_up() {
  echo "Firefox root: not made: $*" >&2
  mkdir -p "$(dirname "$WHY")"
  echo "$*" >"$WHY"
  exit 0
}

setup() {
  if ready; then
    echo "Firefox root: $ROOT ($(cat "$ROOT/.lediflow-version" 2>/dev/null || echo ready))"
    return
  fi
  local started=$SECONDS
  if [ "$(id -u)" != 0 ] && ! sudo -n true 2>/dev/null; then
    give_up "making $ROOT needs root (debootstrap, chroot): run as root or with password-less sudo"
  fi
  command -v unshare >/dev/null && command -v chroot >/dev/null || give_up "unshare and chroot (util-linux, coreutils) are missing"
  mkdir -p "$(dirname "$ROOT")"
  : >"$ROOT.log"
  if ! command -v debootstrap >/dev/null && [ ! -x /usr/sbin/debootstrap ]; then
    command -v apt-get >/dev/null || give_up "no debootstrap and no apt-get to install it"
    echo "Firefox root: installing debootstrap"
    { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >>"$ROOT.log" 2>&1 \
      || give_up "apt-get install debootstrap failed (no network?); its log: $ROOT.log"
  fi
  local partial="$ROOT.partial"
  as_root rm -rf "$partial"
  echo "Firefox root: debootstrap --variant=minbase trixie $partial (a few minutes, once)"
  as_root env PATH="/usr/sbin:/sbin:$PATH" debootstrap --variant=minbase trixie "$partial" "$MIRROR" >>"$ROOT.log" 2>&1 \
    || give_up "debootstrap trixie from $MIRROR failed (no network?); its log: $ROOT.log"
  echo "Firefox root: apt-get install $PACKAGES"
  # A private mount namespace: /proc and /dev are mounted into the root only for this command.
  as_root unshare --mount --propagation private sh -c '
      set -e
      mount --rbind /dev "$1/dev"
      mount -t proc proc "$1/proc"
      chroot "$1" apt-get update -qq
      chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $2
      chroot "$1" apt-get clean
      chroot "$1" sh -c "firefox-esr --version" >"$1/.lediflow-version"
    ' sh "$partial" "$PACKAGES" >>"$ROOT.log" 2>&1 \
    || give_up "apt-get install $PACKAGES in the Debian 13 root failed; its log: $ROOT.log"
  echo "$STAMP_TEXT" | as_root tee "$partial/.lediflow-root" >/dev/null
  as_root rm -rf "$ROOT" "$WHY"
  as_root mv "$partial" "$ROOT"
  echo "Firefox root: made in $((SECONDS - started)) s: $ROOT ($(cat "$ROOT/.lediflow-version")), $(du -sh "$ROOT" | cut -f1)"
}

case "${1:-}" in
  setup) setup ;;
  status)
    if ready; then echo "ready: $ROOT ($(cat "$ROOT/.lediflow-version" 2>/dev/null))"
    elif [ -f "$WHY" ]; then echo "not made: $(cat "$WHY")"; exit 1
    else echo "not made: scripts/firefox-root.sh setup (./dev test runs it) has not run"; exit 1
    fi ;;
  *) echo "usage: scripts/firefox-root.sh setup | status" >&2; exit 2 ;;
esac
