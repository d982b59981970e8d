#!/usr/bin/env bash
# Writes a command's man page with help2man: the top-level --help and --version, plus a COMMANDS
# section with every subcommand's own --help (two levels deep: `relay enroll create`).
#   packaging/man-page.sh BINARY NAME "one-line summary" OUT.1
set -euo pipefail

if [[ $# -ne 4 ]]; then
  echo "usage: $0 BINARY NAME SUMMARY OUT" >&2
  exit 2
fi
binary=$1 name=$2 summary=$3 out=$4

if ! command -v help2man >/dev/null; then
  echo "man-page: help2man is not installed (apt-get install help2man)" >&2
  exit 1
fi
if [[ ! -x $binary ]]; then
  echo "man-page: $binary is not an executable; build it first" >&2
  exit 1
fi

# Defaults that --help shows from the environment: the man page shows them for any user, not
# for whoever built it ("~/.local/state/switchboard-agent", not /root/...).
unset SWITCHBOARD_AGENT_DIR SWITCHBOARD_DATA_DIR SWITCHBOARD_RELAY XDG_STATE_HOME SHELL
export HOME='~'

# The names listed under "Subcommands:" in a --help text.
subcommands() {
  awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }'
}

# --help text as roff: no filling, backslashes and leading dots or quotes made literal.
as_roff() {
  echo '.nf'
  sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
  echo '.fi'
}

include=$(mktemp)
trap 'rm -f "$include"' EXIT
{
  echo '[COMMANDS]'
  for sub in $("$binary" --help | subcommands); do
    help=$("$binary" "$sub" --help)
    printf '.SS "%s %s"\n' "$name" "$sub"
    as_roff <<<"$help"
    for subsub in $(subcommands <<<"$help"); do
      printf '.SS "%s %s %s"\n' "$name" "$sub" "$subsub"
      "$binary" "$sub" "$subsub" --help | as_roff
    done
  done
  echo '[SEE ALSO]'
  echo 'relay(1), device-agent(1), operator-cli(1); the README and docs/ of the switchboard sources'
} >"$include"

mkdir -p "$(dirname "$out")"
help2man --no-info --section 1 --name "$summary" --include "$include" \
  --source "switchboard $("$binary" --version)" --output "$out" "$binary"
