#!/usr/bin/env bash
# Installs the Debian packages traintop needs, only those missing. Idempotent.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail

packages=(
  build-essential pkg-config
  libncurses-dev          # the dashboard (ncursesw)
  libnanomsg-dev nanomsg-utils   # transport; nanocat for hand-written clients
  libcjson-dev            # messages
  libopenblas-dev liblapacke-dev # CPU kernels, LAPACK for spectra
  libcmocka-dev           # C test runner
  python3-numpy           # numerical reference tests
  python3-torch python3-sklearn python3-pytest python3-pip  # the PyTorch probe, its example and tests
  tmux                    # end-to-end dashboard tests
  valgrind                # leak checks in tests
  clang libclang-rt-14-dev  # libFuzzer target for the message validator
  openssh-client openssh-server  # traintop attach, and its end-to-end test against a throw-away sshd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages; run as root:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd
