"""The ctypes structures of the package match the C headers: every field's offset and every struct's
size, read from a small C program compiled against include/traintop/probe.h and probes/cuda/tt_cuda.h
(the GPU header needs no CUDA toolkit). A field added on one side only fails here, not in a user's run."""
import ctypes
import os
import subprocess

import pytest

from conftest import ROOT

pytest.importorskip("torch")
from traintop import _lib, cuda  # noqa: E402

STRUCTS = [
    ("tt_probe_opts", _lib.ProbeOpts),
    ("tt_dense_batch", _lib.DenseBatch),
    ("tt_probe_counters", _lib.Counters),
    ("tt_cuda_opts", cuda.Opts),
    ("tt_cuda_dense", cuda.Dense),
    ("tt_cuda_ps_out", cuda.PsOut),
    ("tt_cuda_batch", cuda.Batch),
]


def _c_layout(tmp_path):
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "traintop/probe.h"', '#include "tt_cuda.h"',
             'int main(void) {']
    for cname, py in STRUCTS:
        lines.append('printf("%s sizeof %%zu\\n", sizeof(%s));' % (cname, cname))
        for fname, _ in py._fields_:
            lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));' % (cname, fname, cname, fname))
    lines.append("return 0; }")
    src, exe = tmp_path / "abi.c", tmp_path / "abi"
    src.write_text("\n".join(lines) + "\n")
    r = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-I", os.path.join(ROOT, "include"),
                        "-I", os.path.join(ROOT, "probes", "cuda"), "-o", str(exe), str(src)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "the C side lacks a field the ctypes side has:\n" + r.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=10, check=True).stdout
    return {tuple(line.split()[:2]): int(line.split()[2]) for line in out.splitlines()}


def test_ctypes_structures_match_the_headers(tmp_path):
    c = _c_layout(tmp_path)
    bad = []
    for cname, py in STRUCTS:
        if c[(cname, "sizeof")] != ctypes.sizeof(py):
            bad.append("%s: C size %d, ctypes %d (a field missing on one side?)" % (cname, c[(cname, "sizeof")], ctypes.sizeof(py)))
        for fname, _ in py._fields_:
            off = getattr(py, fname).offset
            if c[(cname, fname)] != off:
                bad.append("%s.%s: C offset %d, ctypes %d" % (cname, fname, c[(cname, fname)], off))
    assert not bad, "\n".join(bad)
