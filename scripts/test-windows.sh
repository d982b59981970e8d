#!/usr/bin/env bash
# The Windows phase of the tests: cross-builds device-agent.exe and windows_tests.exe
# (scripts/build-windows.sh --tests), then under Wine, in a Wine prefix of its own:
#  - scripts/build-msi.sh: the MSI, its tables checked;
#  - windows_tests.exe: the agent's platform-independent unit tests and the Windows backends'
#    (the service wrapper under Wine's service manager, the data dir's permissions);
#  - build/'s end-to-end tests WindowsAgent.*: a Linux relay on loopback and
#    `wine device-agent.exe run` (enrolment, Windows version, exec, forwards, ConPTY shell);
#    WindowsService.*: `service install`, sc/net start, online, stop, `service uninstall`;
#    the MSI installed, upgraded to a newer one, and removed with Wine's msiexec.
# Needs build/ (scripts/build.sh) for the relay and the end-to-end test binary. Prints each
# step's duration; exits non-zero if a build or a test fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BUILD=${SB_WINDOWS_BUILD_DIR:-$ROOT/build-windows}
start=$SECONDS
step() { printf 'test-windows: %s (%ds so far)\n' "$1" $((SECONDS - start)); }

[[ -x build/tests/e2e_tests ]] || { echo "test-windows: build/ is missing: run scripts/build.sh first" >&2; exit 1; }
command -v wine >/dev/null || { echo "test-windows: wine missing: run scripts/install-deps.sh" >&2; exit 1; }

bash scripts/build-windows.sh --tests
step "built"

# A private prefix, made once per run (about 10 s) and removed at the end, with every Wine
# process of that prefix (and only those).
scratch=$(mktemp -d)
export WINEPREFIX="$scratch/prefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  wineserver -k >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT
wineboot -i >/dev/null 2>&1
# The boot that makes a new prefix leaves two services.exe running in it, each with a service
# database of its own: a service created through one is "not installed" for the other (seen
# with Debian 12's Wine 8.0). Waiting until that boot's processes are gone makes the tests'
# first Wine process start one service manager, as a restarted prefix always has.
timeout 120 wineserver -w
step "Wine prefix ready"

failed=()
# The package, and a newer one (the next patch version) that the tests upgrade to.
version=$(sed -n 's/^project(switchboard VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
next_version=$(awk -F. '{ print $1 "." $2 "." $3 + 1 }' <<<"$version")
if ! SB_WINDOWS_BUILD_DIR="$BUILD" bash scripts/build-msi.sh "$BUILD/agent/device-agent/device-agent.exe" ||
   ! SB_WINDOWS_BUILD_DIR="$BUILD" SB_MSI_VERSION="$next_version" SB_MSI_OUT="$BUILD/switchboard-agent-next.msi" \
       bash scripts/build-msi.sh "$BUILD/agent/device-agent/device-agent.exe"; then
  failed+=(msi)
fi
step "MSI built and its tables checked"

if ! wine "$BUILD/agent/tests/windows/windows_tests.exe" --gtest_brief=1; then
  failed+=(windows_tests)
fi
step "windows_tests.exe done"

if ! SB_WINDOWS_AGENT_EXE="$BUILD/agent/device-agent/device-agent.exe" \
    SB_WINDOWS_MSI="$BUILD/switchboard-agent.msi" SB_WINDOWS_MSI_NEXT="$BUILD/switchboard-agent-next.msi" \
    build/tests/e2e_tests --gtest_filter='WindowsAgent.*:WindowsService.*' --gtest_brief=1; then
  failed+=(e2e)
fi
step "end-to-end tests under Wine done"

if [[ ${#failed[@]} -ne 0 ]]; then
  echo "test-windows: FAILED in: ${failed[*]}" >&2
  exit 1
fi
echo "test-windows: all Windows tests passed"
