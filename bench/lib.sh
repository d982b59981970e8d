# bench/lib.sh: setup shared by bench/keystroke, bench/fanout, bench/purge and bench/soak
# (sourced, not run).
#
# The caller sets `bench` (its name, for messages), `repo` (the checkout), `build_dir`,
# `do_build`, `keep` and `relay_args` before sourcing (and `sanitized=1` if it wants the ASan +
# UBSan tree instead of RelWithDebInfo), and then uses:
#   need_tools TOOL...          die unless each tool is on PATH
#   build_binaries TARGET...    build those targets in $build_dir unless --no-build (at most
#                               two jobs with sanitized=1: that build is heavy on memory)
#   make_scratch                $tmp (mode 700, removed on exit unless --keep) and the cleanup trap
#   free_port                   a free loopback TCP port, never the same twice in one run
#   make_keys                   $tmp/op_key, $tmp/dev_key, host keys, $tmp/ssh_config (ssh -F)
#   start_sshd NAME PORT        a private sshd on 127.0.0.1:PORT (root logins with the bench keys)
#   start_relay [ARGS...]       relay init + operator "bench" + `relay serve` on a free port:
#                               $relay_pid $relay_port $relay_dir $fingerprint
#   start_enrolled_agent NAME [ARGS...]  enrolls NAME, grants it to "bench", runs the agent:
#                               $agent_pid (stopped by the cleanup)
# Processes are stopped by PID only (bench_cleanup if the bench defines it, client_pids, then
# server_pids with their children).
# shellcheck shell=bash disable=SC2154  # bench, repo, build_dir, ... come from the caller

log() { echo "$bench: $*" >&2; }
died=0
die() { log "$*"; died=1; exit 1; }

need_tools() {
  local tool
  for tool in "$@"; do command -v "$tool" >/dev/null || die "needs $tool"; done
}

case "$build_dir" in /*) ;; *) build_dir="$repo/$build_dir" ;; esac
relay_bin="$build_dir/relay/relay"
agent_bin="$build_dir/device-agent/device-agent"

build_binaries() {
  if [[ $do_build -eq 1 ]]; then
    if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
      if [[ ${sanitized:-0} -eq 1 ]]; then
        # as scripts/build.sh --sanitize configures it (line tables only, unity batches)
        log "configuring $build_dir (Debug, ASan + UBSan)"
        cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug -DSB_SANITIZE=ON \
          -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 >&2
      else
        log "configuring $build_dir (RelWithDebInfo)"
        cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
      fi
    fi
    local jobs
    jobs="$(nproc)"
    [[ ${sanitized:-0} -eq 1 && $jobs -gt 2 ]] && jobs=2
    log "building $* in $build_dir"
    cmake --build "$build_dir" -j"$jobs" --target "$@" >&2
  fi
  [[ -x "$relay_bin" ]] || die "no relay binary at $relay_bin (build it, or drop --no-build)"
  [[ -x "$agent_bin" ]] || die "no device-agent binary at $agent_bin"
  if [[ ${sanitized:-0} -eq 1 ]]; then
    grep -qs '^SB_SANITIZE:BOOL=ON' "$build_dir/CMakeCache.txt" ||
      log "warning: $build_dir is not a sanitized build (SB_SANITIZE=ON): memory errors go unseen"
    return 0
  fi
  local build_type
  build_type="$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$build_dir/CMakeCache.txt" 2>/dev/null || true)"
  [[ "$build_type" == RelWithDebInfo || "$build_type" == Release ]] ||
    log "warning: $build_dir is a '$build_type' build, not RelWithDebInfo: figures will be off"
}

client_pids=()  # stopped first, newest first
server_pids=()  # then these, newest first, each after its children

stop_pid() {
  local pid="$1"
  kill -CONT "$pid" 2>/dev/null || true  # a bench may have frozen it
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$? pid i
  if [[ $status -ne 0 && $died -eq 0 && $status -lt 128 ]]; then
    log "stopped by a failing command (exit status $status); --keep keeps the logs"
  fi
  if declare -F bench_cleanup >/dev/null; then bench_cleanup; fi  # a bench's own processes
  for ((i = ${#client_pids[@]} - 1; i >= 0; i--)); do stop_pid "${client_pids[i]}"; done
  for ((i = ${#server_pids[@]} - 1; i >= 0; i--)); do
    pid="${server_pids[i]}"
    pkill -TERM -P "$pid" 2>/dev/null || true  # sshd's per-connection sessions (children by PID)
    stop_pid "$pid"
  done
  wait 2>/dev/null || true
  if [[ $keep -eq 1 ]]; then echo "kept $tmp (logs, configs)" >&2; else rm -rf "$tmp"; fi
}
make_scratch() {
  tmp="$(mktemp -d "/tmp/sb-$bench.XXXXXX")"
  chmod 700 "$tmp"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

used_ports=" "
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 30000))
    [[ "$used_ports" == *" $port "* ]] && continue
    if ! ss -Htan "sport = :$port" 2>/dev/null | grep -q .; then
      used_ports+="$port "
      echo "$port"
      return 0
    fi
  done
  return 1
}
listening() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
wait_listen() {  # PORT PID WHAT LOGFILE: up to 20 s
  for _ in $(seq 1 200); do
    listening "$1" && return 0
    kill -0 "$2" 2>/dev/null || die "$3 exited; log: $(tail -5 "$4")"
    sleep 0.1
  done
  die "$3 is not listening on $1 after 20 s; log: $(tail -5 "$4")"
}

make_keys() {
  local k
  for k in op_key dev_key dev_sshd_host; do
    ssh-keygen -q -t ed25519 -N '' -C "bench-$k" -f "$tmp/$k"
  done
  cat "$tmp/op_key.pub" "$tmp/dev_key.pub" >"$tmp/authorized_keys"
  cat >"$tmp/ssh_config" <<EOF
Host *
  IdentityFile $tmp/op_key
  IdentitiesOnly yes
  UserKnownHostsFile $tmp/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking accept-new
  UpdateHostKeys no
  BatchMode yes
  ControlMaster no
  ControlPath none
  ForwardAgent no
  ForwardX11 no
  EscapeChar none
  LogLevel ERROR
EOF
}

# sshd runs the account's login shell; SetEnv SHLVL=1 keeps root's bash from reading a slow
# ~/.bashrc for commands (see bench/connect).
start_sshd() {  # NAME PORT
  local name="$1" port="$2"
  [[ -x /usr/sbin/sshd ]] || die "needs /usr/sbin/sshd (apt-get install openssh-server)"
  [[ $EUID -eq 0 ]] || die "needs root (the private sshd logs in as root)"
  [[ -f "$tmp/${name}_host" ]] || ssh-keygen -q -t ed25519 -N '' -C "bench-$name" -f "$tmp/${name}_host"
  cat >"$tmp/$name.conf" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $tmp/${name}_host
AuthorizedKeysFile $tmp/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
PidFile none
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 100:30:200
SetEnv SHLVL=1
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel ERROR
EOF
  [[ -d /run/sshd ]] || mkdir -p /run/sshd  # sshd's privilege separation dir
  /usr/sbin/sshd -t -f "$tmp/$name.conf" 2>"$tmp/$name.log" ||
    die "sshd rejects its config: $(cat "$tmp/$name.log")"
  /usr/sbin/sshd -D -e -f "$tmp/$name.conf" 2>>"$tmp/$name.log" &
  server_pids+=($!)
  wait_listen "$port" "$!" "sshd ($name)" "$tmp/$name.log"
}

relay_dir=""
start_relay() {  # extra `relay serve` words
  relay_dir="$tmp/relay"
  "$relay_bin" init --data-dir "$relay_dir" >"$tmp/init.out" 2>&1 || die "relay init failed: $(cat "$tmp/init.out")"
  fingerprint="$(grep -oE 'SHA256:[A-Za-z0-9+/]{43}' "$tmp/init.out" | head -1)"
  [[ -n "$fingerprint" ]] || die "no fingerprint in relay init output: $(cat "$tmp/init.out")"
  "$relay_bin" operator add bench --key "$tmp/op_key.pub" --data-dir "$relay_dir" >/dev/null 2>"$tmp/admin.log" ||
    die "operator add failed: $(cat "$tmp/admin.log")"
  relay_port="$(free_port)"
  "$relay_bin" serve --data-dir "$relay_dir" --listen "127.0.0.1:$relay_port" "$@" "${relay_args[@]}" \
    >"$tmp/relay.log" 2>&1 &
  relay_pid=$!
  server_pids+=("$relay_pid")
  wait_listen "$relay_port" "$relay_pid" relay "$tmp/relay.log"
}

start_enrolled_agent() {  # NAME [agent args...]
  local name="$1" token
  shift
  token="$("$relay_bin" enroll create --name "$name" --data-dir "$relay_dir" 2>"$tmp/admin.log" | tail -1)"
  [[ -n "$token" ]] || die "enroll create printed no token: $(cat "$tmp/admin.log")"
  "$relay_bin" grant add bench "$name" --data-dir "$relay_dir" >/dev/null 2>"$tmp/admin.log" ||
    die "grant add failed: $(cat "$tmp/admin.log")"
  "$agent_bin" run --relay "127.0.0.1:$relay_port" --relay-key "$fingerprint" \
    --data-dir "$tmp/agent-$name" --enroll-token "$token" "$@" >"$tmp/agent-$name.log" 2>&1 &
  agent_pid=$!
  client_pids+=("$agent_pid")
  for _ in $(seq 1 200); do
    grep -qs "as device $name" "$tmp/agent-$name.log" && return 0
    kill -0 "$agent_pid" 2>/dev/null || die "device-agent exited; log: $(tail -5 "$tmp/agent-$name.log")"
    sleep 0.1
  done
  die "agent did not connect in 20 s; log: $(tail -5 "$tmp/agent-$name.log")"
}

machine_line() {  # "2 vCPU (model)"
  echo "$(nproc) vCPU ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
