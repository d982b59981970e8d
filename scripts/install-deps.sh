#!/usr/bin/env bash
# Installs the Debian 12 packages that switchboard needs to build, test and run its demo.
# Idempotent: asks dpkg which packages are missing and installs only those (apt-get update runs
# only when something is missing). As root it installs them itself; as another user it runs only
# apt-get through sudo (which may ask for the password), or, without sudo, prints the command to
# run as root and exits 1. Nothing else here needs root.
#
# openssh-server is needed by the tests (the OpenSSH baseline, and a device's own sshd): the tests
# start their own sshd on free ports. This script never enables, starts or stops the system sshd
# service; if the package's own scripts started it, it is left as it is.
#
# clang and libclang-rt-14-dev (libFuzzer and clang's sanitizer runtimes) build the fuzz
# harnesses that scripts/fuzz.sh runs, the last step of scripts/test.sh.
#
# dpkg-dev (dpkg-shlibdeps), fakeroot, help2man, lintian and systemd (systemd-analyze, and the
# targets the units refer to) build and check the Debian packages (scripts/test-packages.sh).
# Installing systemd in a container or CI machine does not start it.
# The mingw-w64 posix toolchain and the mingw builds of libgcrypt, libgpg-error and zlib
# cross-compile the Windows agent (scripts/build-windows.sh; dpkg-dev unpacks libssh's source
# package); wine and wine64 run its tests; msitools and wixl build and check its MSI package.
#
# asciinema is needed by the tests only: they check that `asciinema cat` accepts the relay's
# shell recordings (it runs under `script`, from bsdutils, which every Debian system has).
# rsync too: a test copies a tree with `rsync -e ssh` through the relay.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libssh-dev libboost-dev libsqlite3-dev libcli11-dev libspdlog-dev libgtest-dev
  nlohmann-json3-dev libsystemd-dev
  openssh-client openssh-server sqlite3 procps iproute2 curl
  asciinema rsync
  clang libclang-rt-14-dev
  dpkg-dev fakeroot help2man lintian systemd
  g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix libgcrypt-mingw-w64-dev
  libgpg-error-mingw-w64-dev libz-mingw-w64-dev wine wine64 msitools wixl
)

is_installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [[ "$status" == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! is_installed "$pkg"; then
    missing+=("$pkg")
  fi
done

# sshd refuses to start as root without its privilege separation directory. The package creates
# it at boot through tmpfiles.d, which containers and fresh CI machines may never run; the tests'
# own sshd instances need it, so make sure it is there (harmless if it already is).
ensure_sshd_privsep_dir() {
  if [[ $EUID -eq 0 && ! -d /run/sshd ]]; then
    install -d -m 0755 /run/sshd
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  ensure_sshd_privsep_dir
  echo "install-deps: all ${#PACKAGES[@]} packages already installed, nothing to do"
  exit 0
fi

as_root=()
if [[ $EUID -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: missing ${#missing[@]} package(s): ${missing[*]}" >&2
    echo "install-deps: sudo is not installed; run this as root:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  as_root=(sudo)
fi

echo "install-deps: installing ${#missing[@]} missing package(s)${as_root:+ with sudo}: ${missing[*]}"
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

still_missing=()
for pkg in "${missing[@]}"; do
  if ! is_installed "$pkg"; then
    still_missing+=("$pkg")
  fi
done
if [[ ${#still_missing[@]} -ne 0 ]]; then
  echo "install-deps: still missing after apt-get install: ${still_missing[*]}" >&2
  exit 1
fi

ensure_sshd_privsep_dir
echo "install-deps: installed ${#missing[@]} package(s) (${missing[*]}); all ${#PACKAGES[@]} present"
