#!/usr/bin/env bash
# The packaging test, part of scripts/test.sh: builds the three .deb files from the already built
# build/ (scripts/build-packages.sh: cpack and lintian, no compile), checks their contents with
# dpkg-deb (tests/packaging/contents.sh), then installs, reinstalls, removes and purges them in a
# throw-away root with dpkg --root (tests/packaging/install.sh; as a user, under fakeroot), where
# systemd-analyze verifies the installed units. Prints its duration; see docs/packaging.md.
#   scripts/test-packages.sh [BUILD_DIR]     default build/
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
start=$SECONDS

SB_LINTIAN=0 bash scripts/build-packages.sh "$build"
# lintian takes a third of the time and only reads the packages: it runs beside the other checks.
bash packaging/lintian.sh "$build/packages" &
lintian_pid=$!
rc=0
bash tests/packaging/contents.sh "$build/packages" || rc=1
as_root=()
[[ $EUID -eq 0 ]] || as_root=(fakeroot --)
"${as_root[@]}" bash tests/packaging/install.sh "$build/packages" || rc=1
wait "$lintian_pid" || rc=1
if [[ $rc -ne 0 ]]; then
  echo "packages: FAILED after $((SECONDS - start)) s" >&2
  exit 1
fi
echo "packages: all packaging checks passed in $((SECONDS - start)) s"
