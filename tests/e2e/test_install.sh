#!/usr/bin/env bash
# `make install PREFIX=…` gives a working prefix: binaries, header, library and a pkg-config file
# that an out-of-tree program builds against, and that program's run reaches a collector.
source "$(dirname "$0")/lib.sh"

PREFIX=$T/prefix
make -s -C "$ROOT" install PREFIX="$PREFIX" > "$T/install.log" 2>&1
check "make install exits 0" test $? -eq 0
for f in bin/traintop bin/traintopd bin/traintop-demo-trainer include/traintop/probe.h lib/libtraintop.a lib/libtraintop.so lib/pkgconfig/traintop.pc; do
    check "installed $f" test -e "$PREFIX/$f"
done
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
cc -std=c11 -Wall -Wextra -Werror "$ROOT/examples/hello_probe.c" $(pkg-config --cflags --libs --static traintop) -o "$T/hello" 2> "$T/cc.err"
check "an out-of-tree program builds with pkg-config alone" test $? -eq 0
cat "$T/cc.err"

EP=ipc://$T/c.sock
"$PREFIX/bin/traintopd" --listen "$EP" 2> "$T/d.err" &
PIDS+=($!)
wait_for 5 test -S "$T/c.sock"
TRAINTOP_ENDPOINT=$EP LD_LIBRARY_PATH=$PREFIX/lib "$T/hello" hello-installed 40 > "$T/hello.out"
check "it runs" test $? -eq 0
"$PREFIX/bin/traintop" ls --endpoint "$EP" > "$T/ls.txt"
check "the collector has its 40 steps" grep -Eq "^hello-installed +0 +finished +40 " "$T/ls.txt"
PYTHONPATH=$PREFIX/lib/python3/dist-packages TRAINTOP_LIB=$PREFIX/lib/libtraintop.so.0 $PY -c "
import traintop, numpy as np
w = np.ones((4, 4), np.float32); g = np.zeros((4, 4), np.float32)
print('python package', traintop.__file__)" > "$T/py.out" 2>&1
check "the Python package is installed and imports" grep -q "^python package $PREFIX/lib/python3/dist-packages/traintop" "$T/py.out"
finish
