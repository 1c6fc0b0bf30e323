"""Shared fixtures: the package from this checkout, the C library and a real collector per test.

Every test that publishes starts its own bin/traintopd on a unique ipc:// socket in a fresh /tmp
directory (short, because a Unix socket path has at most 107 bytes) with --record, and kills it at the
end. Values are checked by reading the recording (DIR/<run>.jsonl), which holds every message exactly
as the probe sent it (10 significant digits), or `traintop ls --json`.
"""
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PY = sys.executable   # the interpreter running the tests (.venv under make)

if not os.environ.get("TRAINTOP_TEST_INSTALLED"):
    sys.path.insert(0, os.path.join(ROOT, "python"))

# Probes keep what no collector acknowledged in a spool under XDG_STATE_HOME: the tests' own, not the user's.
_STATE = tempfile.mkdtemp(prefix="tt-state-")
os.environ["XDG_STATE_HOME"] = _STATE


@pytest.fixture(scope="session", autouse=True)
def _private_state():
    yield
    shutil.rmtree(_STATE, ignore_errors=True)


def _build():
    need = ["lib/libtraintop.so", "bin/traintopd", "bin/traintop"]
    if all(os.path.exists(os.path.join(ROOT, n)) for n in need):
        return
    subprocess.run(["make", "-s"] + need, cwd=ROOT, check=False, timeout=600)
    missing = [n for n in need if not os.path.exists(os.path.join(ROOT, n))]
    if missing:
        pytest.fail("cannot build %s (run `make`)" % ", ".join(missing))


@pytest.fixture(scope="session", autouse=True)
def built():
    _build()


def num(v):
    """A metric value from JSON: a number, or the strings NaN / Inf / -Inf."""
    if isinstance(v, str):
        return {"NaN": math.nan, "Inf": math.inf, "-Inf": -math.inf}[v]
    return float(v)


class Collector:
    def __init__(self, record=True, dir=None):
        self.dir = dir or tempfile.mkdtemp(prefix="ttpy", dir="/tmp")     # dir: a collector started later
        self.endpoint = "ipc://%s/c.sock" % self.dir
        self.rec = os.path.join(self.dir, "rec")
        args = [os.path.join(ROOT, "bin", "traintopd"), "--listen", self.endpoint, "--quiet"]
        if record:
            args += ["--record", self.rec]
        self.log = open(os.path.join(self.dir, "traintopd.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30          # generous: a loaded machine may be slow to start it
        while not os.path.exists(os.path.join(self.dir, "c.sock.q")):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("traintopd did not start: " + open(self.log.name).read())
            time.sleep(0.02)

    def query(self, request, timeout=30):
        """One request on the query socket (a nanomsg REQ, through nanocat)."""
        out = subprocess.run(["nanocat", "--req", "--connect", self.endpoint + ".q", "--data", json.dumps(request),
                              "--ascii"], capture_output=True, text=True, timeout=timeout)
        return json.loads(out.stdout.strip())

    def stop(self, run, reason):
        return self.query({"v": 1, "type": "stop", "run": run, "reason": reason})

    def ls(self):
        out = subprocess.run([os.path.join(ROOT, "bin", "traintop"), "ls", "--endpoint", self.endpoint, "--json"],
                             capture_output=True, text=True, timeout=30, check=True)
        return json.loads(out.stdout)

    def messages(self, run, ranks=(0,), timeout=60):
        """Every recorded message of a run, once the run_end of each rank in ranks is recorded."""
        path = os.path.join(self.rec, run + ".jsonl")
        deadline = time.time() + timeout
        while True:
            msgs = []
            if os.path.exists(path):
                with open(path) as f:
                    for line in f:
                        line = line.strip()
                        if line:
                            try:
                                msgs.append(json.loads(line))
                            except ValueError:
                                pass      # a line being written
            ended = {m.get("rank", 0) for m in msgs if m.get("type") == "run_end"}
            if all(r in ended for r in ranks):
                return msgs
            if time.time() > deadline:
                raise AssertionError("no run_end for run %r ranks %s in %s (%d messages)" % (run, ranks, path, len(msgs)))
            time.sleep(0.05)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def collector():
    c = Collector()
    try:
        yield c
    finally:
        c.close()


class Run:
    """A recorded run of one rank, indexed for the tests."""

    def __init__(self, msgs, rank=0):
        msgs = [m for m in msgs if m.get("rank", 0) == rank]
        self.start = next(m for m in msgs if m["type"] == "run_start")
        self.end = next(m for m in msgs if m["type"] == "run_end")
        self.stats = self.start["stats"]
        self.layers = [l["name"] for l in self.start["layers"]]
        self.steps = {m["step"]: m for m in msgs if m["type"] == "step"}

    def layer(self, step, name):
        """{stat: value} of layer NAME at STEP, or None when the step has no layer rows."""
        m = self.steps[step]
        if "layers" not in m:
            return None
        row = m["layers"][self.layers.index(name)]
        return {s: num(v) for s, v in zip(self.stats, row)}

    def scalar(self, step, name, default=None):
        v = self.steps[step].get("scalars", {}).get(name)
        return default if v is None else num(v)

    def extra(self, step, name, stat):
        li, si = self.layers.index(name), self.stats.index(stat)
        for e in self.steps[step].get("extra", []):
            if e[0] == li and e[1] == si and (len(e) < 4 or e[3] == step):
                return num(e[2])
        return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
