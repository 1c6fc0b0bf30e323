#!/usr/bin/env bash
# Plugins: the bundled panels load; a wrong ABI, a missing symbol or function, a failing init and a
# world-writable file are each refused with their reason; the tutorial plugin builds from an installed
# prefix through pkg-config alone and shows up.
source "$(dirname "$0")/lib.sh"

make -s -C "$ROOT" build/test-plugins/bad_abi.so build/test-plugins/newer_minor.so build/test-plugins/no_symbol.so \
     build/test-plugins/init_fails.so build/test-plugins/no_draw.so > /dev/null
TP=$ROOT/build/test-plugins
cp "$TP/init_fails.so" "$T/open.so"; chmod 666 "$T/open.so"
"$BIN/traintop" plugins --plugin "$TP/bad_abi.so" --plugin "$TP/newer_minor.so" --plugin "$TP/no_symbol.so" \
    --plugin "$TP/init_fails.so" --plugin "$TP/no_draw.so" --plugin "$T/open.so" > "$T/list.txt"
check "traintop plugins exits 0 whatever it refused" test $? -eq 0
for p in spectrum noise gwa; do check "bundled panel $p loads" grep -Eq "^$p +loaded" "$T/list.txt"; done
check "wrong major ABI refused" grep -q "bad_abi.so — refused: ABI 2.0, host 1.0 (the major version must match)" "$T/list.txt"
check "newer minor ABI refused" grep -q "newer_minor.so — refused: ABI 1.1, host 1.0 (built for a newer host)" "$T/list.txt"
check "missing symbol refused" grep -q "no_symbol.so — refused: missing symbol traintop_plugin" "$T/list.txt"
check "missing draw refused" grep -q "no_draw.so — refused: missing function draw" "$T/list.txt"
check "failing init refused" grep -q "init_fails.so — refused: init failed" "$T/list.txt"
check "world-writable file refused" grep -q "open.so — refused: the file is world-writable" "$T/list.txt"

# The tutorial, out of tree, against an installed prefix.
PREFIX=$T/prefix
make -s -C "$ROOT" install PREFIX="$PREFIX" > /dev/null 2>&1
cp -r "$ROOT/examples/plugins/hello" "$T/hello"
PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig make -s -C "$T/hello" > "$T/hello-build.log" 2>&1
check "examples/plugins/hello builds with pkg-config alone" test -f "$T/hello/hello.so"
mkdir -p "$T/data/traintop/plugins"
cp "$T/hello/hello.so" "$T/data/traintop/plugins/"
XDG_DATA_HOME=$T/data "$PREFIX/bin/traintop" plugins > "$T/installed.txt"
check "the installed traintop finds its bundled panels" grep -Eq "^gwa +loaded +$PREFIX/lib/traintop/plugins/gwa.so" "$T/installed.txt"
check "and the user's plugin in \$XDG_DATA_HOME/traintop/plugins" grep -Eq "^hello +loaded" "$T/installed.txt"
check "whose init logged through the services table" grep -q "traintop plugin: hello: ready" "$T/installed.txt"
finish
