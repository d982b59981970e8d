#!/usr/bin/env bash
# Packages device-agent.exe as build-windows/switchboard-agent.msi with wixl (msitools), then
# checks the package's tables with msiinfo.
#   bash scripts/build-msi.sh [EXE]     EXE defaults to build-windows/agent/device-agent/device-agent.exe
# Environment: SB_WINDOWS_BUILD_DIR (default build-windows), as for scripts/build-windows.sh;
#   SB_MSI_VERSION (default: the project's version) and SB_MSI_OUT (default
#   build-windows/switchboard-agent.msi): the tests build a newer package to upgrade to.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${SB_WINDOWS_BUILD_DIR:-build-windows}
exe=${1:-$out_dir/agent/device-agent/device-agent.exe}
wxs=packaging/windows/switchboard-agent.wxs
msi=${SB_MSI_OUT:-$out_dir/switchboard-agent.msi}

for tool in wixl msiinfo msibuild; do
  command -v "$tool" >/dev/null || { echo "build-msi: $tool is missing (apt-get install wixl msitools)" >&2; exit 1; }
done
[[ -f $exe ]] || { echo "build-msi: $exe not found (bash scripts/build-windows.sh builds it)" >&2; exit 1; }
version=${SB_MSI_VERSION:-$(sed -n 's/^project(switchboard VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "build-msi: no version (X.Y.Z) in CMakeLists.txt or SB_MSI_VERSION" >&2; exit 1; }

# wixl finds File/@Source relative to the working directory: a stage holding only the exe.
stage=$out_dir/msi-stage
rm -rf "$stage" && mkdir -p "$stage"
cp "$exe" "$stage/device-agent.exe"
wxs_abs=$PWD/$wxs
msi_abs=$(cd "$(dirname "$msi")" && pwd)/$(basename "$msi")
# wixl's GLib warnings about attributes it does not know would hide real errors: there are none
# in this file, so any output is worth reading.
(cd "$stage" && wixl -a x64 -D "Version=$version" -o "$msi_abs" "$wxs_abs")
# wixl writes SecureCustomProperties itself, for the Upgrade table's properties only (a row in
# the .wxs would clash with it): the properties an admin passes on the command line are added
# here, so that they reach the elevated install (GPO, Intune, an administrator's msiexec).
secure="RELAY;TOKEN;NAME;RELAYKEY;OLDERFOUND;NEWERFOUND"
msibuild "$msi_abs" -q "UPDATE \`Property\` SET \`Value\` = '$secure' WHERE \`Property\` = 'SecureCustomProperties'"

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
grep -q $'^InstallAgentService\t3090\tDeviceAgentExe\tservice install --relay "\[RELAY\]" \[TOKENARG\]' <<<"$ca" ||
  fail "CustomAction InstallAgentService is not 'service install' with RELAY and TOKEN"
grep -q $'^SetTokenArg\t2099\tTOKENARG\t--enroll-token "\[TOKEN\]"' <<<"$ca" ||
  fail "CustomAction SetTokenArg does not pass TOKEN as --enroll-token"
grep -q $'^StartAgentService\t3154\tDeviceAgentExe\tservice start' <<<"$ca" ||
  fail "CustomAction StartAgentService is not 'service start'"
grep -q $'^UninstallAgentService\t3154\tDeviceAgentExe\tservice uninstall' <<<"$ca" ||
  fail "CustomAction UninstallAgentService is not 'service uninstall'"
seq=$(table InstallExecuteSequence)
# Deferred actions must stand between InstallInitialize (1500) and InstallFinalize (6600): the
# service goes in after the files (InstallFiles 4000), and out before them (RemoveFiles 3500).
grep -q $'^InstallAgentService\tNOT Installed AND RELAY\t4001$' <<<"$seq" || fail "install action not sequenced"
grep -q $'^StartAgentService\tNOT Installed AND RELAY\t4002$' <<<"$seq" || fail "start action not sequenced"
grep -q $'^RemoveExistingProducts\t\t1450$' <<<"$seq" ||
  fail "RemoveExistingProducts is not between InstallValidate and InstallInitialize"
upgrade=$(table Upgrade)
grep -q $'^{6F3B0B0E-8A53-4E8C-9B7C-3C1D2A6E5A10}\t0.0.0\t'"$version"$'\t\t256\t\tOLDERFOUND$' <<<"$upgrade" ||
  fail "the Upgrade table does not remove older versions"
grep -q $'^{6F3B0B0E-8A53-4E8C-9B7C-3C1D2A6E5A10}\t'"$version"$'\t\t\t2\t\tNEWERFOUND$' <<<"$upgrade" ||
  fail "the Upgrade table does not detect newer versions"
grep -q $'^UninstallAgentService\tREMOVE="ALL"\t3400$' <<<"$seq" || fail "uninstall action not sequenced"
props=$(table Property)
grep -q $'^ProductVersion\t'"$version"'$' <<<"$props" || fail "ProductVersion is not $version"
grep -q $'^SecureCustomProperties\t'"$secure"'$' <<<"$props" || fail "RELAY/TOKEN are not secure properties"
grep -q $'^MsiHiddenProperties\tTOKEN;' <<<"$props" || fail "TOKEN is not hidden from the log"
echo "build-msi: $msi ($(stat -c %s "$msi") bytes, version $version): File, Directory, CustomAction, InstallExecuteSequence, Upgrade and Property tables checked"
