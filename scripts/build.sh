#!/usr/bin/env bash
# Configures and builds switchboard.
#   scripts/build.sh              -> build/       (RelWithDebInfo)
#   scripts/build.sh --sanitize   -> build-asan/  (Debug, AddressSanitizer + UndefinedBehaviorSanitizer)
#   scripts/build.sh --binaries   -> build/, only relay, device-agent and operator-cli (the demo)
# Env: SB_BUILD_JOBS (default: nproc) parallel build jobs.
#      SB_DEBUG_INFO lines (default) builds with -g1: file:line in backtraces, sanitizer reports
#               and profiles, at half the compile time of full debug info; full builds with -g
#               (what a debugger needs to show variables).
#      SB_UNITY 1 (default) compiles each target in batches of 16 sources (a CMake unity build:
#               Asio, JSON and CLI11 templates are parsed and instantiated once per batch, which
#               halves a clean build); 0 compiles every source on its own (what an IDE does).
set -euo pipefail

usage() {
  echo "usage: $0 [--sanitize] [--binaries]" >&2
  echo "  builds into build/ (RelWithDebInfo), or build-asan/ (Debug, ASan+UBSan) with --sanitize" >&2
}

sanitize=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    --binaries) targets=(--target relay device-agent operator-cli) ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build: unknown argument: $arg" >&2; usage; exit 2 ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${SB_BUILD_JOBS:-$(nproc)}"
unity=(-DCMAKE_UNITY_BUILD=OFF)
if [[ "${SB_UNITY:-1}" == 1 ]]; then
  unity=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16)
fi
case "${SB_DEBUG_INFO:-lines}" in
  lines) g=-g1 ;;
  full) g=-g ;;
  *) echo "build: SB_DEBUG_INFO must be lines or full" >&2; exit 2 ;;
esac
if [[ $sanitize -eq 1 ]]; then
  dir=build-asan
  config=(-DCMAKE_BUILD_TYPE=Debug -DSB_SANITIZE=ON "-DCMAKE_CXX_FLAGS_DEBUG=$g")
else
  dir=build
  config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_SANITIZE=OFF
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 $g -DNDEBUG")
fi

# Ninja schedules the whole tree's compiles as one graph (make works directory by directory) and
# logs each step's time in .ninja_log. A tree configured before keeps its generator.
generator=()
if [[ ! -f "$dir/CMakeCache.txt" ]] && command -v ninja >/dev/null; then
  generator=(-G Ninja)
fi

echo "build: configuring $dir/"
cmake -S . -B "$dir" "${generator[@]}" "${config[@]}" "${unity[@]}"
echo "build: building $dir/ with $jobs job(s)"
start=$SECONDS
cmake --build "$dir" -j"$jobs" "${targets[@]}"
echo "build: $dir/ is up to date ($((SECONDS - start)) s)"
