#!/usr/bin/env bash
# libtraintop.so exports its public API and nothing else: the functions include/traintop/*.h declares
# TT_API (read from the headers, so the expectation cannot drift from them) against `nm -D`; and what
# its consumers load from it — the Python package's required functions, libtraintop_cuda.so's
# undefined symbols — is all in that list.
source "$(dirname "$0")/lib.sh"

LIB=$ROOT/lib/libtraintop.so
api=$(cat "$ROOT"/include/traintop/*.h | perl -0pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g; s{^\s*#[^\n]*}{}mg' | tr '\n' ' ' |
      grep -oE 'TT_API [^;]*;' |
      sed -E 's/\(.*//; s/.*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*) *$/\1/' | sort -u)
echo "$api" > "$T/api.txt"
nm -D --defined-only "$LIB" | awk '{print $NF}' | sort -u > "$T/exported.txt"
check "the headers declare a public API ($(wc -l < "$T/api.txt") TT_API functions)" test "$(wc -l < "$T/api.txt")" -ge 10
check "tt_probe_open is among them" grep -qx tt_probe_open "$T/api.txt"
if diff "$T/api.txt" "$T/exported.txt" > "$T/diff.txt"; then ok "libtraintop.so exports exactly the TT_API functions"
else bad "libtraintop.so exports differ from the TT_API functions (< header only, > library only):"; cat "$T/diff.txt"; fi

# The Python package: every function it requires, and every optional one it uses where present.
$PY -c "
import sys; sys.path.insert(0, '$ROOT/python')
from traintop import _lib
print('\n'.join(sorted(_lib._PROTOS)))" > "$T/py_needs.txt" 2> "$T/py.err"
check "the Python package lists what it loads" test -s "$T/py_needs.txt"
missing=$(comm -23 "$T/py_needs.txt" "$T/exported.txt")
check "the Python package finds every function it requires${missing:+ (missing: $missing)}" test -z "$missing"

CUDA_LIB=$ROOT/lib/libtraintop_cuda.so
if [ -e "$CUDA_LIB" ]; then
    nm -D --undefined-only "$CUDA_LIB" | awk '{print $NF}' | grep -E '^(tt_|jw_)' | sort -u > "$T/cuda_needs.txt"
    missing=$(comm -23 "$T/cuda_needs.txt" "$T/exported.txt")
    check "libtraintop_cuda.so needs only public API from libtraintop.so${missing:+ (also: $missing)}" test -z "$missing"
else
    echo "skip libtraintop_cuda.so: not built (no nvcc)"
fi
finish
