#!/usr/bin/env bash
# Installs what vramscope needs to build and test on Debian 12 / Ubuntu 24.04.
# Qt and Dear ImGui are optional for the injector alone (see README).
set -euo pipefail
packages=(build-essential cmake pkg-config libzstd-dev qt6-base-dev libqt6opengl6-dev libgl-dev python3-dev
          libimgui-dev xvfb xauth clang)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "vramscope: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
