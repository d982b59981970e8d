#!/usr/bin/env bash
# Local demo: installs what is missing, builds, starts a relay on 127.0.0.1 and runs a device agent
# in attended-help mode in the foreground, so you can watch a session ID being handed out.
# Everything lives in ./demo-data (relative to the repository root); Ctrl-C ends the agent and the
# relay is stopped on the way out.
#
# Env: SB_DEMO_PORT (default 2222)   port the relay listens on, on 127.0.0.1
#      SB_DEMO_WAIT (default 30)     seconds to wait for the relay to accept connections
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

port="${SB_DEMO_PORT:-2222}"
wait_secs="${SB_DEMO_WAIT:-30}"
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  echo "demo: SB_DEMO_PORT must be a port number, got '$port'" >&2
  exit 2
fi
listen="127.0.0.1:$port"

relay_bin=build/relay/relay
agent_bin=build/device-agent/device-agent
data=./demo-data
relay_dir=$data/relay
agent_dir=$data/agent
relay_log=$data/relay.log

echo "== install-deps"
bash scripts/install-deps.sh
echo "== build"
bash scripts/build.sh --binaries

# True if something accepts TCP connections on 127.0.0.1:$port.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

if port_open; then
  echo "demo: 127.0.0.1:$port is already in use; stop whatever listens there or pick another" \
    "port, e.g. SB_DEMO_PORT=2223 bash scripts/demo.sh" >&2
  exit 1
fi

# The relay and the agent refuse data dirs that are group/world writable.
mkdir -p "$data"
chmod 0700 "$data"

echo "== relay init ($relay_dir)"
if [[ -f "$relay_dir/relay.db" && -f "$relay_dir/ssh_host_ed25519_key" ]]; then
  echo "demo: $relay_dir is already initialised, keeping it (rm -rf $data for a fresh start)"
else
  "$relay_bin" init --data-dir "$relay_dir"
fi

# A demo operator: its own key, registered with the relay (idempotent).
operator_key=$data/operator_key
if [[ ! -f $operator_key ]]; then
  ssh-keygen -q -t ed25519 -N '' -C demo-operator -f "$operator_key"
fi
if ! "$relay_bin" operator list --data-dir "$relay_dir" --json | grep -q '"name": "demo"'; then
  "$relay_bin" operator add demo --key "$operator_key.pub" --data-dir "$relay_dir"
fi

relay_pid=
# shellcheck disable=SC2317  # called from the traps below
stop_relay() {
  if [[ -n "$relay_pid" ]] && kill -0 "$relay_pid" 2>/dev/null; then
    echo "demo: stopping the relay (pid $relay_pid)"
    kill -TERM "$relay_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$relay_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$relay_pid" 2>/dev/null; then
      echo "demo: the relay did not stop within 5 s, killing it" >&2
      kill -KILL "$relay_pid" 2>/dev/null || true
    fi
    wait "$relay_pid" 2>/dev/null || true
  fi
  relay_pid=
}
trap stop_relay EXIT
trap 'stop_relay; exit 130' INT
trap 'stop_relay; exit 143' TERM

echo "== relay serve on $listen (log: $relay_log)"
echo "=== demo.sh: relay serve on $listen at $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$relay_log"
"$relay_bin" serve --data-dir "$relay_dir" --listen "$listen" --check-interval 10s \
  >>"$relay_log" 2>&1 &
relay_pid=$!

deadline=$((SECONDS + wait_secs))
until port_open; do
  if ! kill -0 "$relay_pid" 2>/dev/null; then
    wait "$relay_pid" 2>/dev/null && rc=0 || rc=$?
    relay_pid=
    echo "demo: the relay exited (status $rc) before accepting connections; last lines of $relay_log:" >&2
    tail -n 20 "$relay_log" >&2 || true
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "demo: the relay did not accept connections on $listen within ${wait_secs}s; last lines of $relay_log:" >&2
    tail -n 20 "$relay_log" >&2 || true
    exit 1
  fi
  sleep 0.1
done
echo "demo: relay is up on $listen (pid $relay_pid)"

cat <<EOT

================================================================================
 The device agent starts below and prints its Session ID (e.g. "482 913 075").
 Next, in another terminal (as $(id -un), the owner of $data):

   cd $root
   $relay_bin session list --data-dir $relay_dir      # the live session
   $relay_bin device list --data-dir $relay_dir       # enrolled devices (none in this demo)
EOT
# Once the agent has its session ID, print the operator lines with the real ID.
print_operator_lines() {
  local id="" i
  for i in $(seq 1 150); do
    id=$("$agent_bin" status --data-dir "$agent_dir" --json 2>/dev/null |
      sed -n 's/.*"session_id": "\([0-9]*\)".*/\1/p') || true
    [[ -n $id ]] && break
    sleep 0.2
  done
  [[ -n $id ]] || return 0
  cat <<EOT2

 Operator, in another terminal (the device's user answers y at the prompt here):

   $root/build/operator-cli/operator-cli connect $id --relay $listen -i $operator_key --known-hosts $data/known_hosts --host-key-checking accept-new
   ssh -p $port -i $operator_key -o IdentitiesOnly=yes -o UserKnownHostsFile=$data/known_hosts -o StrictHostKeyChecking=accept-new $id@127.0.0.1

EOT2
}
rm -f "$agent_dir/status.json"  # so only this run's session ID is printed
print_operator_lines &
cat <<EOT

 Ctrl-C here ends the agent; the relay is then stopped. Relay log: $relay_log
================================================================================

EOT

echo "== device-agent help --relay $listen"
agent_rc=0
"$agent_bin" help --relay "$listen" --data-dir "$agent_dir" || agent_rc=$?
echo "demo: device-agent exited with status $agent_rc"
exit "$agent_rc"
