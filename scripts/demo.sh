#!/usr/bin/env bash
# README command 1: install, build, and open a bundled real trace (GPT-2
# small trained on an H100, with tensor events, phases and hardware
# counters): in the app when there is a display, otherwise as a text summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
trace="${1:-}"
if [ -z "$trace" ]; then
  for candidate in tests/data/torch_gpt2_counters.vtrace tests/data/torch_gpt_plain.vtrace tests/data/injector_gpt_small.vtrace tests/data/*.vtrace; do
    [ -f "$candidate" ] && { trace=$candidate; break; }
  done
fi
[ -n "$trace" ] || { echo "vramscope: no bundled trace found in tests/data/" >&2; exit 1; }
if [ -n "${DISPLAY:-}" ] && [ -x build/app/vramscope-gui ]; then
  exec build/app/vramscope-gui "$trace"
fi
if build/profiler/cli/vramscope summary --help >/dev/null 2>&1; then
  exec build/profiler/cli/vramscope summary "$trace"
fi
exec build/profiler/cli/vramscope info "$trace"
