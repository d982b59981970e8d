#!/usr/bin/env bash
# Installs what is missing, builds the normal and the sanitized trees, runs every test in both,
# builds and checks the Debian packages from build/ (scripts/test-packages.sh), tests the Windows
# agent under Wine (scripts/test-windows.sh), then runs each fuzz harness briefly
# (scripts/fuzz.sh, build-fuzz/). The Windows agent and the fuzz harnesses compile in the
# background, at nice 19, while the Linux suites run. The sanitized tree's
# binaries go through the normal tree's end-to-end tests (SB_E2E_BIN_DIR=build-asan).
# Exits non-zero if any build or any test fails; prints the total duration at the end.
#
# Env:
#   SB_TEST_LABELS   ctest label regex passed as -L (e.g. "unit", "e2e"); default: every test
#   SB_TEST_JOBS     parallel ctest jobs (default 2)
#   SB_TEST_SANITIZE 1 (default) also build and test build-asan/; 0 skips the sanitized tree
#   SB_DETECT_LEAKS  LeakSanitizer on (1) or off (0). Default 1; when not set explicitly and a probe
#                    shows LeakSanitizer cannot run here (it refuses to run under ptrace, as in some
#                    sandboxes), it falls back to 0 with a warning.
#   ASAN_OPTIONS / UBSAN_OPTIONS  extra options, appended after ours (later options win)
#   SB_TEST_PACKAGES 1 (default) builds and checks the .deb packages from build/; 0 skips that
#   SB_TEST_WINDOWS  1 (default) also cross-builds the Windows agent and tests it under Wine
#                    (scripts/test-windows.sh); 0 skips that phase
#   SB_FUZZ_SECONDS  how long each libFuzzer harness runs (scripts/fuzz.sh) after the suites;
#                    default 3, 0 skips fuzzing
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

start=$SECONDS
print_duration() {
  local rc=$? elapsed=$((SECONDS - start))
  printf 'test: total duration %dm%02ds (exit %d)\n' $((elapsed / 60)) $((elapsed % 60)) "$rc"
}
trap print_duration EXIT

jobs="${SB_TEST_JOBS:-2}"
sanitize="${SB_TEST_SANITIZE:-1}"
fuzz_seconds="${SB_FUZZ_SECONDS:-3}"
windows="${SB_TEST_WINDOWS:-1}"

ctest_args=(--output-on-failure -j"$jobs" --timeout 300 --no-tests=error)
if [[ -n "${SB_TEST_LABELS:-}" ]]; then
  ctest_args+=(-L "$SB_TEST_LABELS")
fi

# True if a trivial ASan binary runs with LeakSanitizer enabled.
lsan_works() {
  local tmp rc=0
  tmp=$(mktemp -d)
  printf 'int main() { return 0; }\n' >"$tmp/probe.cpp"
  if ! c++ -fsanitize=address "$tmp/probe.cpp" -o "$tmp/probe" 2>/dev/null; then
    rm -rf "$tmp"
    return 0  # cannot tell; keep the default and let the real run speak
  fi
  ASAN_OPTIONS=detect_leaks=1 "$tmp/probe" >"$tmp/out" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]] && grep -q LeakSanitizer "$tmp/out"; then
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$tmp"
  return 0
}

echo "== install-deps"
bash scripts/install-deps.sh

echo "== build (build/)"
bash scripts/build.sh

if [[ "$sanitize" == 1 ]]; then
  if [[ -n "${SB_DETECT_LEAKS:-}" ]]; then
    leaks="$SB_DETECT_LEAKS"
  elif lsan_works; then
    leaks=1
  else
    leaks=0
    echo "test: WARNING: LeakSanitizer cannot run here (ptrace-restricted sandbox?);" \
      "running the sanitized tests with detect_leaks=0 (set SB_DETECT_LEAKS=1 to force it)" >&2
  fi
  # Exported before the sanitized build too: gtest_discover_tests runs the test binaries then.
  export ASAN_OPTIONS="detect_leaks=${leaks}:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  echo "== build (build-asan/, ASan+UBSan)"
  bash scripts/build.sh --sanitize
fi

failed=()

# The Windows agent and the fuzz harnesses compile in the background, at the lowest CPU priority,
# while the suites below run: those mostly wait on sockets and processes (about half of the CPU
# stays idle), and nice 19 gives the CPU to a test whenever it wants it. Their phases below then
# find them built; a failed background build is simply built again there, in the foreground,
# where its errors show.
background_log=$(mktemp)
background_pid=""
if [[ "$windows" == 1 || "$fuzz_seconds" != 0 ]]; then
  echo "== background: building the Windows agent and the fuzz harnesses at nice 19 (log: $background_log)"
  # A session of its own, so that an interrupted run stops the whole build with it.
  SB_WINDOWS="$windows" SB_FUZZ="$fuzz_seconds" SB_JOBS="$jobs" setsid nice -n 19 bash -c '
    [[ $SB_WINDOWS == 1 ]] && bash scripts/build-windows.sh --tests
    [[ $SB_FUZZ != 0 ]] && bash scripts/fuzz.sh --build-only --jobs "$SB_JOBS"
    true' >"$background_log" 2>&1 </dev/null &
  background_pid=$!
fi
stop_background() {
  if [[ -n "$background_pid" ]]; then kill -- "-$background_pid" 2>/dev/null || true; fi
  rm -f "$background_log"
}
trap 'rc=$?; stop_background; (exit $rc); print_duration' EXIT

echo "== ctest build/"
if ! ctest --test-dir build "${ctest_args[@]}"; then
  failed+=(build)
fi

if [[ "${SB_TEST_PACKAGES:-1}" == 1 ]]; then
  echo "== packages (from build/: cpack, lintian, dpkg-deb, install and purge in a throw-away root)"
  if ! bash scripts/test-packages.sh build; then
    failed+=(packages)
  fi
fi

if [[ "$sanitize" == 1 ]]; then
  # build-asan/ holds the unit tests; its relay, agent and operator-cli then go through build/'s
  # end-to-end tests (SB_E2E_BIN_DIR), which the sanitized tree does not compile again.
  # Either run may find no test for a label filter; the other has them.
  asan_args=("${ctest_args[@]/--no-tests=error/--no-tests=ignore}")
  echo "== ctest build-asan/ (ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS)"
  if ! ctest --test-dir build-asan "${asan_args[@]}"; then
    failed+=(build-asan)
  fi
  echo "== ctest build/ -L e2e with build-asan/'s binaries (SB_E2E_BIN_DIR)"
  if ! SB_E2E_BIN_DIR="$PWD/build-asan" ctest --test-dir build "${asan_args[@]}" -L e2e; then
    failed+=(build-asan-e2e)
  fi
fi

if [[ -n "$background_pid" ]]; then
  bg_start=$SECONDS
  wait "$background_pid" || true
  background_pid=""
  echo "== background builds done (waited $((SECONDS - bg_start)) s for them)"
fi

if [[ "$windows" == 1 ]]; then
  echo "== Windows agent (build-windows/, tests under Wine)"
  if ! bash scripts/test-windows.sh; then
    failed+=(windows)
  fi
fi

if [[ "$fuzz_seconds" != 0 ]]; then
  echo "== fuzz (build-fuzz/, ${fuzz_seconds}s per harness)"
  if ! bash scripts/fuzz.sh --seconds "$fuzz_seconds" --jobs "$jobs"; then
    failed+=(fuzz)
  fi
fi

if [[ ${#failed[@]} -ne 0 ]]; then
  echo "test: FAILED in: ${failed[*]}" >&2
  exit 1
fi
fuzzed="fuzz harnesses ran ${fuzz_seconds}s each without a crash"
[[ "$fuzz_seconds" == 0 ]] && fuzzed="fuzzing skipped: SB_FUZZ_SECONDS=0"
if [[ "$sanitize" == 1 ]]; then
  echo "test: all tests passed in build/ and build-asan/; $fuzzed"
else
  echo "test: all tests passed in build/ (sanitized tree skipped: SB_TEST_SANITIZE=$sanitize); $fuzzed"
fi
