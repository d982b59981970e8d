#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang in build-fuzz/ and runs each one for a
# fixed time, starting from its seed corpus in tests/fuzz/corpus/<name>/.
# Exits non-zero if a build fails or any harness finds a crash, and prints the reproducer.
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [--build-only] [NAME...]
#     --seconds N  how long each harness runs (default 10)
#     --build-only build the harnesses, run none (scripts/test.sh builds them beside the tests)
#     --jobs J     parallel build jobs, and harnesses run at once (default 2)
#     NAME...      only these harnesses (e.g. cidr asciicast); default: all of them
#
# Inputs a run discovers are kept in build-fuzz/corpus/<name>/ (not in git) and reused by the next
# run; crashes go to build-fuzz/artifacts/. tests/fuzz/dict/<name>.dict, if there, is the
# harness's libFuzzer dictionary. Reproduce one with:
#   build-fuzz/tests/fuzz/<name>_fuzz build-fuzz/artifacts/<name>/crash-...
# Env: SB_DETECT_LEAKS 1 (default) or 0, as in scripts/test.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=10
jobs=2
build_only=0
names=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: --seconds needs a positive whole number, not '$seconds'" >&2
  exit 2
fi
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

build=build-fuzz
if [[ ${#names[@]} -eq 0 ]]; then
  for dir in tests/fuzz/corpus/*/; do names+=("$(basename "$dir")"); done
fi

launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
generator=()
if [[ ! -f "$build/CMakeCache.txt" ]] && command -v ninja >/dev/null; then
  generator=(-G Ninja)  # as scripts/build.sh does
fi
echo "== fuzz: build ($build/, clang, libFuzzer + ASan + UBSan)"
# -g1: file:line in crash reports, at a fraction of the compile time of full debug info.
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" -DSB_FUZZ=ON -DSB_BUILD_TESTS=OFF -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 \
  "${launcher[@]}" >/dev/null
targets=()
for name in "${names[@]}"; do targets+=(--target "${name}_fuzz"); done
cmake --build "$build" -j"$jobs" "${targets[@]}"
if [[ $build_only == 1 ]]; then
  echo "fuzz: ${#names[@]} harnesses built in $build/tests/fuzz/"
  exit 0
fi

export ASAN_OPTIONS="detect_leaks=${SB_DETECT_LEAKS:-1}:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# Runs one harness for the fixed time; its verdict goes to its log, its status is the exit code.
run_harness() {
  local name="$1"
  local work="$build/corpus/$name" artifacts="$build/artifacts/$name" log="$build/logs/$name.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  local options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$artifacts/")
  # Tokens of the format (JSON members, time units...) reach deeper code than random bytes.
  [[ -f "tests/fuzz/dict/$name.dict" ]] && options+=(-dict="tests/fuzz/dict/$name.dict")
  # The first directory receives new inputs; the seeds are only read.
  "$build/tests/fuzz/${name}_fuzz" "${options[@]}" "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1
}

report() {
  local name="$1" status="$2" log="$build/logs/$1.log" stats
  if [[ $status -eq 0 ]]; then
    stats=$(awk '/^stat::number_of_executed_units/ {print $2; exit}' "$log")
    printf 'fuzz: %-16s ok   (%s runs in %ss)\n' "$name" "${stats:-?}" "$seconds"
  else
    failed+=("$name")
    printf 'fuzz: %-16s FAILED (log: %s)\n' "$name" "$log"
    grep -E 'ERROR:|runtime error:|SUMMARY:|Test unit written to' "$log" | head -n 8 | sed 's/^/  /'
  fi
}

# Harnesses are single-threaded: run --jobs of them at a time, each for the full time.
failed=()
declare -A running=()  # pid -> harness name
for name in "${names[@]}"; do
  while [[ ${#running[@]} -ge $jobs ]]; do
    status=0
    wait -n -p done_pid "${!running[@]}" || status=$?
    report "${running[$done_pid]}" "$status"
    unset "running[$done_pid]"
  done
  run_harness "$name" &
  running[$!]="$name"
done
for pid in "${!running[@]}"; do
  status=0
  wait "$pid" || status=$?
  report "${running[$pid]}" "$status"
done

if [[ ${#failed[@]} -ne 0 ]]; then
  echo "fuzz: crashes in: ${failed[*]} (reproduce: $build/tests/fuzz/NAME_fuzz ARTIFACT)" >&2
  exit 1
fi
echo "fuzz: ${#names[@]} harnesses ran ${seconds}s each without a crash"
