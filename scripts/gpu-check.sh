#!/usr/bin/env bash
# gpu-check.sh — the GPU backend's device checks as one short run on a borrowed GPU machine that has
# CUDA and torch but none of this project's Debian libraries and no network.
#
#   scripts/gpu-check.sh pack   here: build the libraries, the GPU test and bench and traintopd, and
#                               pack them (debug info stripped) with the shared libraries they need
#                               beyond glibc, libstdc++ and CUDA into .gpucheck/pack.tgz (~23 MB; the
#                               files themselves are ~67 MB, over the tool's 64 MiB)
#   scripts/gpu-check.sh run [STEP...]
#                               there: test_cuda_gpu, test_cuda_torch.py, bench_cuda --quick,
#                               bench_cuda_torch.py --quick, bench_gpt.py (a GPT decoder under watch(),
#                               a real traintopd collecting), test_cuda_gpu under compute-sanitizer's
#                               memcheck — or only the STEPs named; every step runs (one failing does
#                               not stop the others), the log goes to $OUT/gpu-check.log when OUT is set
#
# With the project's `device` tool: pack here, then run with
#   carry = [".gpucheck"]
#   command = "bash scripts/gpu-check.sh run", timeout_s = 600   (expected: a few minutes on an H200)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

pack() {
    set -e
    make -j2 lib/libtraintop.so cuda-all build/tests/test_cuda_gpu build/bench/bench_cuda bin/traintopd
    local st
    st=$(mktemp -d)
    cp build/tests/test_cuda_gpu build/bench/bench_cuda bin/traintopd lib/libtraintop_cuda.so "$st/"
    cp lib/libtraintop.so "$st/libtraintop.so.0"          # by its soname: what libtraintop_cuda.so asks for
    strip --strip-debug "$st"/*                           # DWARF is of no use there
    local f
    for f in $(ldd lib/libtraintop.so lib/libtraintop_cuda.so build/tests/test_cuda_gpu build/bench/bench_cuda bin/traintopd |
               awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u); do
        case "$(basename "$f")" in
            libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libutil.so*|libgcc_s.so*|libstdc++.so*) continue ;;
            libcu*|libnv*|libtraintop*) continue ;;           # the machine's own CUDA; ours are copied above
        esac
        cp -L "$f" "$st/"
    done
    rm -rf .gpucheck
    mkdir .gpucheck
    tar -czf .gpucheck/pack.tgz -C "$st" .
    echo "gpu-check: packed $(ls "$st" | wc -l) files ($(du -sh "$st" | cut -f1)) into .gpucheck/pack.tgz ($(du -sh .gpucheck/pack.tgz | cut -f1)): $(ls "$st" | tr '\n' ' ')"
    rm -rf "$st"
    local ex
    ex=$(git rev-parse --git-common-dir)/info/exclude    # a worktree's .git is a file
    grep -qx '/.gpucheck/' "$ex" 2>/dev/null || echo '/.gpucheck/' >>"$ex"
}

step() {    # step NAME SECONDS COMMAND...: runs it, records its status, never stops the script
    local name=$1 secs=$2
    shift 2
    echo "== $name"
    timeout "$secs" "$@"
    local rc=$?
    echo "== $name: exit $rc"
    [ "$rc" -eq 0 ] || failed="$failed $name"
}

run() {
    [ -f .gpucheck/pack.tgz ] || { echo "gpu-check: .gpucheck/pack.tgz missing: run 'scripts/gpu-check.sh pack' here first and carry .gpucheck" >&2; exit 2; }
    local d py=${PY:-python3} log=${OUT:-/tmp}/gpu-check.log
    d=$(mktemp -d)
    tar -xzf .gpucheck/pack.tgz -C "$d" || { echo "gpu-check: .gpucheck/pack.tgz does not unpack" >&2; exit 2; }
    export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export TRAINTOP_LIB="$d/libtraintop.so.0" TRAINTOP_CUDA_LIB="$d/libtraintop_cuda.so" TRAINTOPD="$d/traintopd"
    export PYTHONUNBUFFERED=1
    failed=""
    only=" $* "
    want() { [ "$only" = "  " ] || [[ "$only" == *" $1 "* ]]; }
    {
        nvidia-smi -L 2>&1 || true
        "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1
        ldd "$d/test_cuda_gpu" "$d/libtraintop_cuda.so" | grep "not found" && failed="$failed libraries"
        # timeouts add up to 540 s: inside one 600 s device call
        want test_cuda_gpu && step test_cuda_gpu 60 "$d/test_cuda_gpu"
        want test_cuda_torch && step test_cuda_torch 120 "$py" tests/cuda/test_cuda_torch.py
        want bench_cuda && step bench_cuda 45 "$d/bench_cuda" --quick
        want bench_cuda_torch && step bench_cuda_torch 45 "$py" bench/cuda/bench_cuda_torch.py --quick
        want bench_gpt && step bench_gpt 180 "$py" bench/cuda/bench_gpt.py
        # out-of-bounds and misaligned accesses, last
        local san
        san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
        want memcheck && step memcheck 90 "$san" --tool memcheck --error-exitcode 1 "$d/test_cuda_gpu"
        if [ -n "$failed" ]; then echo "gpu-check: failed:$failed"; else echo "gpu-check: all steps passed"; fi
    } 2>&1 | tee "$log"
    rm -rf "$d"
    grep -q "^gpu-check: all steps passed" "$log"
}

case "${1:-}" in
    pack) pack ;;
    run) shift; run "$@" ;;
    *) echo "usage: scripts/gpu-check.sh pack|run [STEP...] (pack here, run on the GPU machine)" >&2; exit 2 ;;
esac
