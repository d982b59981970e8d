#!/usr/bin/env bash
# Installs, reinstalls, removes and purges the three packages in a throw-away root: dpkg --root
# with an admin dir of its own, whose status lists only the packages they depend on (copied from
# this system's dpkg, so the Depends versions are checked against what Debian ships). The
# maintainer scripts run without chroot (--force-script-chrootless) with DPKG_ROOT set, so they
# act on the root's /etc/passwd, data dirs and unit links only; the running system is untouched.
# Needs root, or fakeroot (scripts/test-packages.sh runs it under fakeroot for a user).
#   tests/packaging/install.sh DIR_WITH_DEBS
set -euo pipefail

dir=$(cd "$1" && pwd)
arch=$(dpkg --print-architecture)
relay_deb=$(compgen -G "$dir/switchboard-relay_*_$arch.deb")
agent_deb=$(compgen -G "$dir/switchboard-agent_*_$arch.deb")
operator_deb=$(compgen -G "$dir/switchboard-operator_*_$arch.deb")

# dpkg wants ldconfig and start-stop-daemon in PATH, useradd lives in /usr/sbin.
export PATH=/usr/local/sbin:/usr/sbin:/sbin:$PATH

fail() {
  echo "packages: FAIL: $*" >&2
  exit 1
}

root=$(mktemp -d "${TMPDIR:-/tmp}/sb-pkgroot.XXXXXX")
trap 'rm -rf "$root" "$root.log"' EXIT
# The relay's postinst runs `relay init` as the new system user: it must reach the data dir.
chmod 0755 "$root"
admin=$root/var/lib/dpkg
mkdir -p "$root/etc" "$admin/info" "$admin/updates" "$admin/triggers"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
echo 'root:*:19000:0:99999:7:::' >"$root/etc/shadow"
echo 'root:*::' >"$root/etc/gshadow"
chmod 0640 "$root/etc/shadow" "$root/etc/gshadow"
: >"$admin/available"
deps=$(for deb in "$relay_deb" "$agent_deb" "$operator_deb"; do dpkg-deb -f "$deb" Depends; done |
  tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | sort -u)
# A virtual dependency (libspdlog1.10-fmt9) is met by the installed package that provides it.
provided=$(dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Provides}\n' | awk '$1 == "ii" { print }')
for dep in $deps; do
  if ! dpkg-query -s "$dep" 2>/dev/null; then
    provider=$(awk -v dep="$dep" '{ for (i = 3; i <= NF; i++) { sub(/,$/, "", $i); if ($i == dep) { print $2; exit } } }' <<<"$provided")
    [[ -n $provider ]] || fail "$dep (a dependency) is not installed here"
    dpkg-query -s "$provider"
  fi
  echo
done >"$admin/status"
# Directories every Debian system with systemd has; deb-systemd-helper keeps its state there.
mkdir -p "$root/etc/systemd/system" "$root/var/lib/systemd"
before=$(cd "$root" && find . | sort)

dpkg_root=(dpkg --root="$root" --force-script-chrootless --force-not-root --log=/dev/null)
log=$root.log
run() { # run WHAT COMMAND...: output to $log, shown on failure
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    fail "$1 failed"
  fi
}
status() { dpkg-query --admindir="$admin" -W -f '${Status}' "$1" 2>/dev/null || true; }
field() { awk -F: -v name="$2" -v f="$3" '$1 == name { print $f }' "$root/etc/$1"; }

# --- install
run "${dpkg_root[@]}" -i "$relay_deb" "$agent_deb" "$operator_deb"
install_log=$(cat "$log")
for pkg in switchboard-relay switchboard-agent switchboard-operator; do
  [[ $(status $pkg) == "install ok installed" ]] || fail "$pkg: status '$(status $pkg)' after install"
done
grep -q 'relay init --data-dir /var/lib/switchboard' <<<"$install_log" || fail "postinst did not run relay init"
fingerprint=$(grep -o 'SHA256:[A-Za-z0-9+/]\{43\}' <<<"$install_log" | head -1)
[[ -n $fingerprint ]] || fail "postinst printed no fingerprint:"$'\n'"$install_log"

uid=$(field passwd switchboard 3)
gid=$(field passwd switchboard 4)
[[ -n $uid ]] || fail "no switchboard user in the root's /etc/passwd"
[[ $uid -lt 1000 ]] || fail "switchboard is not a system user (uid $uid)"
[[ $(field group switchboard 3) == "$gid" ]] || fail "no switchboard group with gid $gid"
[[ $(field passwd switchboard 6) == /var/lib/switchboard ]] || fail "switchboard's home"
[[ $(field passwd switchboard 7) == /usr/sbin/nologin ]] || fail "switchboard's shell"
data=$root/var/lib/switchboard
[[ $(stat -c '%a %u %g' "$data") == "700 $uid $gid" ]] ||
  fail "data dir is $(stat -c '%a %u %g' "$data"), expected 700 $uid $gid"
for f in ssh_host_ed25519_key relay.db; do
  [[ -f $data/$f ]] || fail "relay init made no $f"
  # fakeroot shows files made by a process with a faked uid as root's; only real root can tell.
  if [[ -z ${FAKEROOTKEY:-} && $(stat -c %u "$data/$f") != "$uid" ]]; then
    fail "$f is not owned by switchboard"
  fi
done
key_sum=$(sha256sum <"$data/ssh_host_ed25519_key")
# The service user can use what the package made: the admin CLI reads the database.
setpriv --reuid="$uid" --regid="$gid" --clear-groups \
  "$root/usr/bin/relay" operator list --data-dir "$data" --json >/dev/null ||
  fail "relay operator list as the switchboard user failed on the packaged data dir"

wants=$root/etc/systemd/system/multi-user.target.wants
[[ $(readlink "$wants/switchboard-relay.service") == /usr/lib/systemd/system/switchboard-relay.service ]] ||
  fail "switchboard-relay.service is not enabled"
[[ ! -e $wants/switchboard-agent.service && ! -L $wants/switchboard-agent.service ]] ||
  fail "switchboard-agent.service is enabled; it needs a relay and a token first"

# The units as installed: systemd-analyze verify inside the root (it checks ExecStart's binary
# there); systemd's own targets, which the units refer to, are copied in from this system.
units=$root/usr/lib/systemd/system
targets=
for d in /usr/lib/systemd/system /lib/systemd/system; do # /lib without merged /usr
  [[ -f $d/multi-user.target ]] && targets=$d && break
done
[[ -n $targets ]] || fail "systemd's targets are missing here (apt-get install systemd)"
cp "$targets"/*.target "$units/"
for unit in switchboard-relay.service switchboard-agent.service; do
  out=$(systemd-analyze verify --man=no --root="$root" "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
  [[ -z $out ]] || fail "systemd-analyze verify $unit: $out"
done
rm -f "$units"/*.target
echo "packages: installed in a throw-away root: user switchboard ($uid:$gid), /var/lib/switchboard initialised ($fingerprint), switchboard-relay.service enabled; units verified"

# --- reinstall (what an upgrade does): the data dir is kept, not initialised again
run "${dpkg_root[@]}" -i "$relay_deb"
grep -q 'keeping the existing data dir' "$log" || fail "a reinstall did not keep the data dir: $(cat "$log")"
[[ $(sha256sum <"$data/ssh_host_ed25519_key") == "$key_sum" ]] || fail "a reinstall changed the host key"

# --- remove: binaries and units go; data dirs, the user and the admin's files stay
mkdir -p "$root/var/lib/switchboard-agent"
echo agent-key >"$root/var/lib/switchboard-agent/device_key"
run "${dpkg_root[@]}" -r switchboard-relay switchboard-agent switchboard-operator
for f in usr/bin/relay usr/bin/device-agent usr/bin/operator-cli usr/lib/systemd/system/switchboard-relay.service; do
  [[ ! -e $root/$f ]] || fail "$f is still there after remove"
done
[[ $(status switchboard-relay) == "deinstall ok config-files" ]] || fail "relay status after remove: $(status switchboard-relay)"
[[ $(sha256sum <"$data/ssh_host_ed25519_key") == "$key_sum" ]] || fail "remove touched the host key"
[[ -f $data/relay.db && -f $root/var/lib/switchboard-agent/device_key ]] || fail "remove deleted a data dir"
[[ -n $(field passwd switchboard 1) ]] || fail "remove deleted the switchboard user"
[[ $(readlink "$root/etc/systemd/system/switchboard-relay.service") == /dev/null ]] ||
  fail "switchboard-relay.service is not masked after remove"

# --- purge: everything the packages created goes, the data dirs with it
run "${dpkg_root[@]}" -P switchboard-relay switchboard-agent switchboard-operator
for pkg in switchboard-relay switchboard-agent switchboard-operator; do
  [[ -z $(status $pkg) || $(status $pkg) == "unknown ok not-installed" ]] || fail "$pkg: status '$(status $pkg)' after purge"
done
[[ ! -e $data && ! -e $root/var/lib/switchboard-agent ]] || fail "purge left a data dir"
[[ -z $(field passwd switchboard 1) && -z $(field group switchboard 1) ]] || fail "purge left the switchboard user or group"
# What is left besides dpkg's own records and useradd's backups (passwd- ...) was there before.
after=$(cd "$root" && find . | grep -v -e '^\./var/lib/dpkg' -e '^\./etc/[a-z]*-$' | sort)
left=$(comm -13 <(echo "$before") <(echo "$after"))
[[ -z $left ]] || fail "purge left behind:"$'\n'"$left"
rm -f "$log"
echo "packages: reinstall kept the data dir; remove kept data dirs and user; purge removed them, nothing left"
