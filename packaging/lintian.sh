#!/usr/bin/env bash
# Runs lintian on the three packages in DIR, info and pedantic tags included, and fails on any
# error or warning. The tags that stay on purpose are overridden, with the reason, in
# packaging/deb/*/lintian-overrides (docs/packaging.md lists them).
#   packaging/lintian.sh DIR
set -euo pipefail

dir=$1
if ! command -v lintian >/dev/null; then
  echo "lintian: not installed; scripts/install-deps.sh installs it" >&2
  exit 1
fi
arch=$(dpkg --print-architecture)
debs=()
for name in switchboard-relay switchboard-agent switchboard-operator; do
  deb=$(compgen -G "$dir/${name}_*_$arch.deb") || {
    echo "lintian: no $name package in $dir" >&2
    exit 1
  }
  debs+=("$deb")
done
# lintian only reads the packages; its warning about running as root (CI is root) is noise.
if ! lintian --info --pedantic --fail-on error,warning "${debs[@]}" 2> >(grep -v 'root privileges' >&2); then
  echo "lintian: FAIL: tags beyond the explained overrides (above)" >&2
  exit 1
fi
echo "lintian: nothing beyond the explained overrides"
