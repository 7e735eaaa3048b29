#!/bin/sh
# Starts the Debian 13 root's firefox-esr (scripts/firefox-root.sh makes it) with this script's
# arguments: puppeteer's `executablePath` for the Firefox tests. The root gets /dev, /proc, /sys
# and the host's temporary directory (puppeteer's profile is there) in a private mount namespace,
# gone when Firefox exits; the process is Firefox itself (exec all the way), so puppeteer can stop it.
set -eu
ROOT="${LEDIFLOW_FIREFOX_ROOT:-$HOME/.cache/lediflow/firefox-trixie}"
TMP="${TMPDIR:-/tmp}"
# As root a mount namespace is enough; otherwise a user namespace maps this user to root in it.
if [ "$(id -u)" = 0 ]; then ns="--mount --propagation private"; else ns="--user --map-root-user --mount"; fi
# Word 1 of the inner script's arguments is the root, 2 the temporary directory, then Firefox's.
# shellcheck disable=SC2086
exec unshare $ns sh -c '
  root=$1 tmp=$2
  shift 2
  mount --rbind /dev "$root/dev"
  mount --rbind /proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mkdir -p "$root$tmp"
  mount --bind "$tmp" "$root$tmp"
  exec chroot "$root" /usr/bin/env -u XDG_RUNTIME_DIR -u DBUS_SESSION_BUS_ADDRESS HOME=/root /usr/bin/firefox-esr "$@"
' sh "$ROOT" "$TMP" "$@"
