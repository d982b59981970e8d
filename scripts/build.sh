#!/usr/bin/env bash
# Configures and builds switchboard.
#   scripts/build.sh              -> build/       (RelWithDebInfo)
#   scripts/build.sh --sanitize   -> build-asan/  (Debug, AddressSanitizer + UndefinedBehaviorSanitizer)
# Env: SB_BUILD_JOBS (default: nproc) parallel build jobs.
set -euo pipefail

usage() {
  echo "usage: $0 [--sanitize]" >&2
  echo "  builds into build/ (RelWithDebInfo), or build-asan/ (Debug, ASan+UBSan) with --sanitize" >&2
}

sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build: unknown argument: $arg" >&2; usage; exit 2 ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs="${SB_BUILD_JOBS:-$(nproc)}"
if [[ $sanitize -eq 1 ]]; then
  dir=build-asan
  config=(-DCMAKE_BUILD_TYPE=Debug -DSB_SANITIZE=ON)
else
  dir=build
  config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_SANITIZE=OFF)
fi

echo "build: configuring $dir/"
cmake -S . -B "$dir" "${config[@]}"
echo "build: building $dir/ with $jobs job(s)"
cmake --build "$dir" -j"$jobs"
echo "build: $dir/ is up to date"
