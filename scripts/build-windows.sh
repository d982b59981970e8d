#!/usr/bin/env bash
# Cross-builds device-agent.exe for 64-bit Windows on Debian 12 with the mingw-w64 posix
# toolchain: one static executable that needs only DLLs every Windows has.
#
#   bash scripts/build-windows.sh [--tests]      # --tests: also the unit tests (windows_tests.exe)
#
# libssh comes from Debian's own source package of the version the Linux build uses (with
# Debian's patches), built once per build dir, statically, with the libgcrypt backend and only
# what a client needs. Boost.Asio, CLI11, nlohmann-json, spdlog and fmt are used header-only from
# their Debian packages, through a private include dir that holds only them. Output:
# build-windows/agent/device-agent.exe (SB_WINDOWS_BUILD_DIR moves build-windows/).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SB_WINDOWS_BUILD_DIR:-$ROOT/build-windows}
JOBS=${SB_JOBS:-2}
WITH_TESTS=OFF
[[ "${1:-}" == "--tests" ]] && WITH_TESTS=ON
TRIPLE=x86_64-w64-mingw32
MINGW_ROOT=/usr/$TRIPLE

for tool in $TRIPLE-gcc-posix $TRIPLE-g++-posix $TRIPLE-windres dpkg-source; do
  command -v "$tool" >/dev/null || { echo "build-windows: $tool missing: run scripts/install-deps.sh" >&2; exit 1; }
done
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)

# --- toolchain -----------------------------------------------------------------------------
cat >"$BUILD/toolchain.cmake.new" <<TOOLCHAIN
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER $TRIPLE-gcc-posix)
set(CMAKE_CXX_COMPILER $TRIPLE-g++-posix)
set(CMAKE_RC_COMPILER $TRIPLE-windres)
set(CMAKE_FIND_ROOT_PATH $MINGW_ROOT $BUILD/deps)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
TOOLCHAIN
# Rewritten only when it changed, so that a second run reconfigures nothing.
cmp -s "$BUILD/toolchain.cmake.new" "$BUILD/toolchain.cmake" 2>/dev/null ||
  cp "$BUILD/toolchain.cmake.new" "$BUILD/toolchain.cmake"
rm -f "$BUILD/toolchain.cmake.new"

# --- libssh from Debian's source package --------------------------------------------------
LIBSSH_VERSION=$(dpkg-query -W -f='${Version}' libssh-dev 2>/dev/null || true)
[[ -n "$LIBSSH_VERSION" ]] || { echo "build-windows: libssh-dev is not installed (scripts/install-deps.sh)" >&2; exit 1; }
DEPS=$BUILD/deps
STAMP=$DEPS/libssh-$LIBSSH_VERSION.stamp
if [[ ! -f "$STAMP" ]]; then
  echo "build-windows: building libssh $LIBSSH_VERSION for Windows (once per build dir)"
  rm -rf "$BUILD/apt" "$BUILD/libssh-src" "$BUILD/libssh-build" "$DEPS"
  # A private apt state: a deb-src list of its own, so the system's sources stay as they are.
  APT="$BUILD/apt"
  mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/etc/preferences.d"
  cat >"$APT/sources.list" <<SOURCES
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian bookworm-updates main
deb-src http://deb.debian.org/debian-security bookworm-security main
SOURCES
  APT_OPTS=(-o "Dir::Etc::sourcelist=$APT/sources.list" -o "Dir::Etc::sourceparts=-"
            -o "Dir::Etc::preferencesparts=$APT/etc/preferences.d"
            -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT" -o "Dir::Cache::archives=$APT/archives"
            -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "Debug::NoLocking=1"
            -o "APT::Sandbox::User=root" -qq)
  apt-get "${APT_OPTS[@]}" update
  mkdir -p "$BUILD/libssh-src"
  # The Linux build's version first; if the archive cannot serve it (a mirror without the
  # security suite's sources), the newest version it can serve of the same upstream release.
  upstream=${LIBSSH_VERSION%%-*}
  got=""
  for version in "$LIBSSH_VERSION" $(apt-cache "${APT_OPTS[@]}" showsrc libssh 2>/dev/null |
      sed -n 's/^Version: //p' | sort -rV); do
    [[ "$version" == "$upstream"-* ]] || continue
    if (cd "$BUILD/libssh-src" && apt-get "${APT_OPTS[@]}" source "libssh=$version" >/dev/null 2>&1); then
      got=$version
      break
    fi
  done
  [[ -n "$got" ]] || { echo "build-windows: cannot fetch the libssh $upstream source package" >&2; exit 1; }
  [[ "$got" == "$LIBSSH_VERSION" ]] ||
    echo "build-windows: warning: libssh $LIBSSH_VERSION's source is not available here; using $got" >&2
  SRC=$(find "$BUILD/libssh-src" -mindepth 1 -maxdepth 1 -type d -name 'libssh-*' | head -1)
  [[ -n "$SRC" ]] || { echo "build-windows: apt-get source libssh gave no source tree" >&2; exit 1; }
  cmake -S "$SRC" -B "$BUILD/libssh-build" -G Ninja -Wno-dev \
    -DCMAKE_TOOLCHAIN_FILE="$BUILD/toolchain.cmake" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$DEPS" \
    -DBUILD_SHARED_LIBS=OFF -DWITH_GCRYPT=ON -DWITH_NACL=OFF -DWITH_GSSAPI=OFF \
    -DWITH_SERVER=ON -DWITH_EXAMPLES=OFF -DWITH_ZLIB=ON -DUNIT_TESTING=OFF -DCLIENT_TESTING=OFF \
    -DWITH_PCAP=OFF -DWITH_SFTP=OFF \
    -DGCRYPT_LIBRARY="$MINGW_ROOT/lib/libgcrypt.a" \
    -DGCRYPT_ERROR_LIBRARY="$MINGW_ROOT/lib/libgpg-error.a" \
    -DZLIB_LIBRARY_RELEASE="$MINGW_ROOT/lib/libz.a" >"$BUILD/libssh-configure.log"
  cmake --build "$BUILD/libssh-build" -j"$JOBS" >"$BUILD/libssh-build.log"
  cmake --install "$BUILD/libssh-build" >/dev/null
  rm -rf "$BUILD/libssh-build" "$BUILD/apt"
  touch "$STAMP"
fi

# --- a private include dir: only the header-only libraries the agent uses ------------------
INC=$BUILD/include
mkdir -p "$INC"
for dir in boost CLI nlohmann spdlog fmt; do
  [[ -d /usr/include/$dir ]] || { echo "build-windows: /usr/include/$dir missing (scripts/install-deps.sh)" >&2; exit 1; }
  ln -sfn "/usr/include/$dir" "$INC/$dir"
done

# --- the agent -----------------------------------------------------------------------------
cmake -S "$ROOT" -B "$BUILD/agent" -G Ninja -Wno-dev \
  -DCMAKE_TOOLCHAIN_FILE="$BUILD/toolchain.cmake" -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" -DSB_WINDOWS_DEPS="$DEPS" -DSB_WINDOWS_INCLUDE="$INC" -DSB_BUILD_TESTS="$WITH_TESTS" \
  -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=64 \
  $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
targets=(device-agent)
[[ "$WITH_TESTS" == ON ]] && targets+=(windows_tests)
cmake --build "$BUILD/agent" -j"$JOBS" --target "${targets[@]}"
exe=$BUILD/agent/device-agent/device-agent.exe
echo "build-windows: $exe ($(stat -c %s "$exe") bytes)"
