#!/usr/bin/env bash
# Installs what traintop needs, only what is missing. Idempotent.
#  1. Debian packages: as root it runs apt-get; otherwise it prints the exact command to run.
#  2. The project's Python virtual environment .venv: torch 2.13.0 (CPU build) first, then
#     scripts/requirements-test.txt, every pip install constrained by scripts/constraints.txt (torch
#     stays 2.13.0 CPU). `make` uses .venv/bin/python for every Python step.
set -euo pipefail

packages=(
  build-essential pkg-config
  libncurses-dev          # the dashboard (ncursesw)
  libnanomsg-dev nanomsg-utils   # transport; nanocat for hand-written clients
  libcjson-dev            # messages
  libmicrohttpd-dev       # the Prometheus endpoint (traintopd --metrics-listen)
  prometheus              # its end-to-end test scrapes traintopd with a real server
  libopenblas-dev liblapacke-dev # CPU kernels, LAPACK for spectra
  libcmocka-dev           # C test runner
  python3-venv            # the project's virtual environment (.venv)
  python3-torch python3-numpy python3-pytest  # the extra check against Debian's torch 1.13 (make py-tests-debian)
  tmux                    # end-to-end dashboard tests
  valgrind                # leak checks in tests
  clang libclang-rt-14-dev  # libFuzzer target for the message validator
  openssh-client openssh-server  # traintop attach, and its end-to-end test against a throw-away sshd
  passwd util-linux       # useradd and setpriv: the security tests act as a second, unprivileged user
  time                    # /usr/bin/time -v: the memory bound of hostile inputs (test_security_inputs)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
else
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
fi

# The virtual environment: re-installed only when the requirements changed (a stamp holds their hash).
cd "$(dirname "$0")/.."
venv=.venv
req=scripts/requirements-test.txt
con=scripts/constraints.txt     # torch==2.13.0 for every pip install below
# cuBLAS for the GPU backend where the CUDA toolkit (nvcc) came without it: the nvidia-cublas wheel.
cuda=/usr/local/cuda
cublas=""
[ -x $cuda/bin/nvcc ] && [ ! -f $cuda/include/cublas_v2.h ] && cublas=nvidia-cublas
want="torch==2.13.0 $cublas $(cat "$req" "$con" | sha256sum | cut -c1-16)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.traintop-stamp" 2>/dev/null)" = "$want" ]; then
  echo "install-deps: $venv up to date ($("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
  exit 0
fi
python=$(command -v python3.11 || command -v python3)
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
echo "install-deps: installing torch 2.13.0 and $req into $venv"
"$venv/bin/python" -m pip install -q -c "$con" torch==2.13.0   # first: see the note in $req
"$venv/bin/python" -m pip install -q -c "$con" -r "$req"
[ -z "$cublas" ] || "$venv/bin/python" -m pip install -q -c "$con" "$cublas"   # headers and libcublas.so.13 (about 600 MB)
echo "$want" > "$venv/.traintop-stamp"
