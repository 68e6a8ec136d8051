#!/usr/bin/env bash
# Installs what building exaudit needs on Debian when it is missing:
# libpcap-dev (the live-capture path links libpcap) and a Rust toolchain check.
# Extra Debian packages can be named as arguments.
set -euo pipefail
need=()
[ -e /usr/include/pcap/pcap.h ] || [ -e /usr/include/pcap.h ] || need+=(libpcap-dev)
for p in "$@"; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo is missing: install Rust (rustup) first" >&2; exit 2; }
