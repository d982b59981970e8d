#!/usr/bin/env bash
# Packages device-agent.exe as build-windows/switchboard-agent.msi with wixl (msitools), then
# checks the package's tables with msiinfo.
#   bash scripts/build-msi.sh [EXE]     EXE defaults to build-windows/agent/device-agent/device-agent.exe
# Environment: SB_WINDOWS_BUILD_DIR (default build-windows), as for scripts/build-windows.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${SB_WINDOWS_BUILD_DIR:-build-windows}
exe=${1:-$out_dir/agent/device-agent/device-agent.exe}
wxs=packaging/windows/switchboard-agent.wxs
msi=$out_dir/switchboard-agent.msi

for tool in wixl msiinfo; do
  command -v "$tool" >/dev/null || { echo "build-msi: $tool is missing (apt-get install wixl msitools)" >&2; exit 1; }
done
[[ -f $exe ]] || { echo "build-msi: $exe not found (bash scripts/build-windows.sh builds it)" >&2; exit 1; }
version=$(sed -n 's/^project(switchboard VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[[ -n $version ]] || { echo "build-msi: no version in CMakeLists.txt" >&2; exit 1; }

# wixl finds File/@Source relative to the working directory: a stage holding only the exe.
stage=$out_dir/msi-stage
rm -rf "$stage" && mkdir -p "$stage"
cp "$exe" "$stage/device-agent.exe"
wxs_abs=$PWD/$wxs
msi_abs=$(cd "$out_dir" && pwd)/switchboard-agent.msi
# wixl's GLib warnings about attributes it does not know would hide real errors: there are none
# in this file, so any output is worth reading.
(cd "$stage" && wixl -a x64 -D "Version=$version" -o "$msi_abs" "$wxs_abs")

# The tables an admin's deployment depends on.
fail() { echo "build-msi: $msi: $*" >&2; exit 1; }
table() { msiinfo export "$msi" "$1" | tr -d '\r' | tail -n +4; }
# Captured first: grep -q stops reading early, which pipefail would count as a failure.
files=$(table File)
dirs=$(table Directory)
grep -q $'^DeviceAgentExe\tAgentExe\tdevice-agent.exe\t' <<<"$files" || fail "File table lacks device-agent.exe"
grep -q $'^INSTALLDIR\tProgramFiles64Folder\tswitchboard-agent' <<<"$dirs" ||
  fail "not installed under Program Files\\switchboard-agent"
ca=$(table CustomAction)
# 3090: an installed file run deferred, as LocalSystem, its exit code checked; 3154: the same,
# its exit code ignored (removal goes on even if the service is gone already).
grep -q $'^InstallAgentService\t3090\tDeviceAgentExe\tservice install --relay "\[RELAY\]" --enroll-token "\[TOKEN\]"' <<<"$ca" ||
  fail "CustomAction InstallAgentService is not 'service install' with RELAY and TOKEN"
grep -q $'^UninstallAgentService\t3154\tDeviceAgentExe\tservice uninstall' <<<"$ca" ||
  fail "CustomAction UninstallAgentService is not 'service uninstall'"
seq=$(table InstallExecuteSequence)
grep -q $'^InstallAgentService\tNOT Installed AND RELAY AND TOKEN\t' <<<"$seq" || fail "install action not sequenced"
grep -q $'^UninstallAgentService\tREMOVE="ALL"\t' <<<"$seq" || fail "uninstall action not sequenced"
props=$(table Property)
grep -q $'^ProductVersion\t'"$version"'$' <<<"$props" || fail "ProductVersion is not $version"
grep -q $'^SecureCustomProperties\tRELAY;TOKEN;NAME;RELAYKEY$' <<<"$props" || fail "RELAY/TOKEN are not secure properties"
grep -q $'^MsiHiddenProperties\tTOKEN;' <<<"$props" || fail "TOKEN is not hidden from the log"
echo "build-msi: $msi ($(stat -c %s "$msi") bytes, version $version): File, Directory, CustomAction, InstallExecuteSequence and Property tables checked"
