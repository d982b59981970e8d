#!/usr/bin/env bash
# Checks what the three .deb files hold, with dpkg-deb: the exact file list, owners and modes,
# control fields (dependencies from dpkg-shlibdeps), maintainer scripts, stripped binaries, man
# pages, bash completions and the units' ExecStart.
#   tests/packaging/contents.sh DIR_WITH_DEBS
set -euo pipefail

dir=$1
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
arch=$(dpkg --print-architecture)
failures=0
fail() {
  echo "packages: FAIL: $*" >&2
  failures=$((failures + 1))
}

# check_package NAME BINARY "DEPENDS..." "FILES..."
check_package() {
  local name=$1 binary=$2 depends=$3 files=$4
  local deb
  deb=$(compgen -G "$dir/${name}_*_$arch.deb") || {
    fail "no $name package in $dir"
    return
  }

  # Exactly these files, each root:root, binaries 0755 and the rest 0644 (directories 0755).
  local listing expected actual
  listing=$(dpkg-deb -c "$deb")
  actual=$(awk '$1 !~ /^d/ { print $6 }' <<<"$listing" | sed 's|^\./|/|' | sort)
  expected=$(tr ' ' '\n' <<<"$files" | sed '/^$/d' | sort)
  if [[ "$actual" != "$expected" ]]; then
    fail "$name holds other files than expected:"$'\n'"$(diff <(echo "$expected") <(echo "$actual") || true)"
  fi
  awk '$2 != "root/root" { print }' <<<"$listing" | grep . &&
    fail "$name: files not owned by root/root"
  awk '$1 ~ /^d/ && $1 != "drwxr-xr-x" { print } $1 ~ /^-/ && $6 ~ /\/bin\// && $1 != "-rwxr-xr-x" { print }
       $1 ~ /^-/ && $6 !~ /\/bin\// && $1 != "-rw-r--r--" { print }' <<<"$listing" | grep . &&
    fail "$name: unexpected modes"

  # Control fields.
  [[ $(dpkg-deb -f "$deb" Package) == "$name" ]] || fail "$name: Package field"
  [[ $(dpkg-deb -f "$deb" Architecture) == "$arch" ]] || fail "$name: Architecture field"
  [[ -n $(dpkg-deb -f "$deb" Maintainer) ]] || fail "$name: no Maintainer"
  [[ $(dpkg-deb -f "$deb" Description | wc -l) -ge 3 ]] || fail "$name: no long description"
  local deps dep
  deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/ //g')
  for dep in $depends; do
    grep -qx "$dep" <<<"$deps" || fail "$name: Depends lacks $dep (has: $(tr "\n" " " <<<"$deps"))"
  done
  grep -q -- '-dev$' <<<"$deps" && fail "$name: depends on a -dev package"

  # Maintainer scripts: the ones in packaging/deb/, byte for byte.
  local component script
  component=${name#switchboard-}
  for script in postinst prerm postrm; do
    if [[ -f $src/packaging/deb/$component/$script ]]; then
      cmp -s <(dpkg-deb -I "$deb" "$script") "$src/packaging/deb/$component/$script" ||
        fail "$name: $script differs from packaging/deb/$component/$script"
    fi
  done

  # The binary is stripped; the man page is help2man's, with the subcommands.
  local tmp
  tmp=$(mktemp -d)
  dpkg-deb -x "$deb" "$tmp"
  if readelf -S "$tmp/usr/bin/$binary" | grep -qE '\.(symtab|debug_info|comment)\b'; then
    fail "$name: /usr/bin/$binary is not stripped"
  fi
  local man=$tmp/usr/share/man/man1/$binary.1.gz
  zcat "$man" | grep -q "^\.TH \"\?${binary^^}\"\? \"\?1" || fail "$name: $binary.1 has no .TH line"
  zcat "$man" | grep -q 'help2man' || fail "$name: $binary.1 not made by help2man"
  zcat "$man" | grep -q "^\.SS \"$binary " || fail "$name: $binary.1 lacks the subcommands"
  local unit
  for unit in "$tmp"/usr/lib/systemd/system/*.service; do
    [[ -e $unit ]] || continue
    grep -q "^ExecStart=/usr/bin/$binary " "$unit" || fail "$name: $(basename "$unit") ExecStart is not /usr/bin/$binary"
  done
  # The bash completion under the command's name, the one shipped in packaging/bash-completion/.
  cmp -s "$tmp/usr/share/bash-completion/completions/$binary" "$src/packaging/bash-completion/switchboard" ||
    fail "$name: bash completion for $binary differs from packaging/bash-completion/switchboard"
  rm -rf "$tmp"
  echo "packages: $name: $(awk '$1 !~ /^d/' <<<"$listing" | wc -l) files, Depends: $(dpkg-deb -f "$deb" Depends)"
}

doc() { echo "/usr/share/doc/$1/changelog.gz /usr/share/doc/$1/copyright /usr/share/lintian/overrides/$1"; }
completion() { echo "/usr/share/bash-completion/completions/$1"; }

check_package switchboard-relay relay \
  "libc6 libssh-4 libsqlite3-0 libsystemd0 libssl3 libstdc++6 passwd" \
  "/usr/bin/relay /usr/lib/systemd/system/switchboard-relay.service /usr/share/man/man1/relay.1.gz
   $(completion relay) $(doc switchboard-relay) /usr/share/doc/switchboard-relay/README.Debian"
check_package switchboard-agent device-agent \
  "libc6 libssh-4 libssl3 libstdc++6" \
  "/usr/bin/device-agent /usr/lib/systemd/system/switchboard-agent.service
   /usr/share/man/man1/device-agent.1.gz $(completion device-agent) $(doc switchboard-agent)
   /usr/share/doc/switchboard-agent/README.Debian"
check_package switchboard-operator operator-cli \
  "libc6 libstdc++6 openssh-client" \
  "/usr/bin/operator-cli /usr/share/man/man1/operator-cli.1.gz $(completion operator-cli)
   $(doc switchboard-operator)"

if ((failures > 0)); then
  echo "packages: $failures content check(s) failed" >&2
  exit 1
fi
echo "packages: contents as expected"
