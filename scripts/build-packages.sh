#!/usr/bin/env bash
# Builds the Debian packages switchboard-relay, switchboard-agent and switchboard-operator from an
# already built tree (cpack -G DEB; nothing is compiled), then checks them with lintian.
#   scripts/build-packages.sh [BUILD_DIR]     default build/ (scripts/build.sh makes it)
# The .deb files land in BUILD_DIR/packages/. See docs/packaging.md.
#
# Env: SB_LINTIAN 1 (default) runs lintian and fails on any error or warning it reports (tags
#      explained in packaging/deb/*/lintian-overrides excepted); 0 skips it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=${1:-build}
out=$build/packages

for tool in cpack dpkg-shlibdeps help2man fakeroot; do
  if ! command -v "$tool" >/dev/null; then
    echo "build-packages: $tool is missing; scripts/install-deps.sh installs it" >&2
    exit 1
  fi
done
if [[ ! -f $build/CPackConfig.cmake ]]; then
  echo "build-packages: $build/ is not a configured tree; run scripts/build.sh first" >&2
  exit 1
fi
for binary in relay/relay device-agent/device-agent operator-cli/operator-cli; do
  if [[ ! -x $build/$binary ]]; then
    echo "build-packages: $build/$binary is missing; run scripts/build.sh first" >&2
    exit 1
  fi
done
# Packaging takes the binaries as they are; say so if the sources moved on since.
if [[ -f $build/build.ninja ]] &&
  ninja -C "$build" -n relay device-agent operator-cli 2>/dev/null | grep -q 'Linking\|Building'; then
  echo "build-packages: WARNING: $build/ is older than the sources; packaging the binaries as built" >&2
fi

rm -rf "$out"
mkdir -p "$out"
echo "build-packages: cpack -G DEB from $build/ into $out/"
# As a user, under fakeroot: the files in the packages belong to root:root all the same.
as_root=()
[[ $EUID -eq 0 ]] || as_root=(fakeroot --)
# One cpack per package, side by side: each spends most of its time in one process at a time
# (dpkg-shlibdeps, help2man), and their install steps write to separate files.
pids=()
for component in relay agent operator; do
  "${as_root[@]}" cpack -G DEB --config "$build/CPackConfig.cmake" -B "$PWD/$out/$component" \
    -D CPACK_COMPONENTS_ALL="$component" >"$out/cpack-$component.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed=1
done
if [[ $failed -ne 0 ]]; then
  cat "$out"/cpack-*.log >&2
  echo "build-packages: cpack failed" >&2
  exit 1
fi
mv "$out"/*/*.deb "$out"/
rm -rf "$out"/relay "$out"/agent "$out"/operator

debs=("$out"/switchboard-relay_*.deb "$out"/switchboard-agent_*.deb "$out"/switchboard-operator_*.deb)
for deb in "${debs[@]}"; do
  [[ -f $deb ]] || { echo "build-packages: cpack made no $deb" >&2; exit 1; }
  printf 'build-packages: %-50s %8d bytes\n' "$(basename "$deb")" "$(stat -c %s "$deb")"
done

if [[ ${SB_LINTIAN:-1} == 1 ]]; then
  bash packaging/lintian.sh "$out"
fi
