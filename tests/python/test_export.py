"""traintop export: a real recording (two ranks of a demo run, merged with a probe's spool) read back by
TensorBoard's own event reader and by pandas equals, value for value, what the recording holds."""
import json
import math
import os
import subprocess

import pytest

from conftest import ROOT, num

BIN = os.path.join(ROOT, "bin")


def expected_points(paths):
    """{(run, rank, step, series): value} from the recorded messages, read independently of the C code."""
    pts, tables = {}, {}
    for path in paths:
        with open(path) as f:
            for line in f:
                m = json.loads(line)
                key = (m["run"], m.get("rank", 0))
                if m["type"] == "run_start":
                    tables[key] = (m["stats"], [l["name"] for l in m["layers"]], m.get("row_stats", len(m["stats"])))
                if m["type"] != "step":
                    continue
                stats, layers, row_stats = tables[key]
                step = m["step"]
                for name, v in m.get("scalars", {}).items():
                    pts[key + (step, name)] = num(v)
                for li, row in enumerate(m.get("layers", [])):
                    for si, v in enumerate(row[:row_stats]):
                        pts[key + (step, "layer/%s/%s" % (layers[li], stats[si]))] = num(v)
                for e in m.get("extra", []):
                    at = e[3] if len(e) > 3 else step
                    pts[key + (at, "layer/%s/%s" % (layers[e[0]], stats[e[1]]))] = num(e[2])
    return pts


def same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A run of two ranks recorded by traintopd, and a spool of a third rank's run written while no collector listened."""
    from conftest import Collector
    c = Collector()
    try:
        for rank in (0, 1):
            subprocess.run([os.path.join(BIN, "traintop-demo-trainer"), "--run", "exp-a", "--rank", str(rank), "--world", "2",
                            "--steps", "40", "--eval-every", "5", "--endpoint", c.endpoint, "--quiet", "--seed", str(rank + 1)],
                           check=True, timeout=120)
        c.messages("exp-a", ranks=(0, 1))
        d = tmp_path_factory.mktemp("rec")
        rec = os.path.join(d, "exp-a.jsonl")
        with open(os.path.join(c.rec, "exp-a.jsonl")) as f, open(rec, "w") as out:
            out.write(f.read())
    finally:
        c.close()
    spool = os.path.join(d, "exp-b.spool")
    subprocess.run([os.path.join(BIN, "traintop-demo-trainer"), "--run", "exp-b", "--steps", "12", "--quiet",
                    "--endpoint", "ipc://%s/nobody.sock" % d, "--spool", spool], check=True, timeout=120)
    return rec, spool


def export(fmt, out, *paths):
    return subprocess.run([os.path.join(BIN, "traintop"), "export", "--format", fmt, "--out", str(out)] + list(paths),
                          capture_output=True, text=True, timeout=120)


def test_tensorboard_reader_reads_the_recording_back(recording, tmp_path):
    pytest.importorskip("tensorboard")      # scripts/requirements-test.txt; absent under Debian's python3
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util
    want = expected_points(recording)
    assert len(want) > 1000 and any("/gamma_mean" in k[3] for k in want)   # rows and extra statistics
    r = export("tensorboard", tmp_path, *recording)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "traintop export: %d values from 2 files into %s (tensorboard)" % (len(want), tmp_path)
    dirs = {"exp-a": (("exp-a", 0)), os.path.join("exp-a", "rank1"): ("exp-a", 1), "exp-b": ("exp-b", 0)}
    got = {}
    for sub, key in dirs.items():
        ea = event_accumulator.EventAccumulator(os.path.join(tmp_path, sub), size_guidance={event_accumulator.TENSORS: 0})
        ea.Reload()
        for tag in ea.Tags()["tensors"]:
            for ev in ea.Tensors(tag):
                v = tensor_util.make_ndarray(ev.tensor_proto)
                assert v.dtype.name == "float64" and v.shape == ()
                got[key + (ev.step, tag)] = float(v)
    assert got.keys() == want.keys()
    bad = [k for k in want if not same(got[k], want[k])]
    assert not bad, [(k, got[k], want[k]) for k in bad[:5]]


def test_csv_reads_back_with_pandas(recording, tmp_path):
    pd = pytest.importorskip("pandas")
    want = expected_points(recording)
    r = export("csv", tmp_path, os.path.dirname(recording[0]), recording[1])
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(tmp_path / "traintop.csv")
    assert list(df.columns) == ["run", "rank", "step", "time", "series", "value"]
    assert df["value"].dtype.name == "float64" and df["step"].dtype.name == "int64"
    assert len(df) == len(want)
    got = {(r.run, r.rank, r.step, r.series): r.value for r in df.itertuples(index=False)}
    assert got.keys() == want.keys()
    bad = [k for k in want if not same(got[k], want[k])]
    assert not bad, [(k, got[k], want[k]) for k in bad[:5]]
    assert (df["time"] > 1e9).all()
    # tidy: one row per run, rank, step and series
    assert not df.duplicated(["run", "rank", "step", "series"]).any()


def test_one_file_is_streamed_with_ranks_interleaved(recording, tmp_path):
    """A collector's recording of a multi-rank run holds the ranks' messages interleaved, each rank in order."""
    pd = pytest.importorskip("pandas")
    lines = open(recording[0]).read().splitlines()
    by_rank = [[l for l in lines if json.loads(l).get("rank", 0) == k] for k in (0, 1)]
    mixed = [l for pair in zip(*by_rank) for l in pair]
    n = min(len(b) for b in by_rank)
    mixed += by_rank[0][n:] + by_rank[1][n:]
    rec = tmp_path / "exp-a.jsonl"
    rec.write_text("\n".join(mixed) + "\n")
    r = export("csv", tmp_path / "out", str(rec))
    assert r.returncode == 0 and not r.stderr, r.stderr
    df = pd.read_csv(tmp_path / "out" / "traintop.csv")
    got = {(r.run, r.rank, r.step, r.series): r.value for r in df.itertuples(index=False)}
    want = expected_points([str(rec)])
    assert got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)


def test_bad_input_is_named_and_skipped(recording, tmp_path):
    rec = tmp_path / "broken.jsonl"
    lines = open(recording[0]).read().splitlines()
    lines.insert(3, '{"v":1,"type":"step","run":"exp-a","rank":0,"step":"many"}')
    lines.insert(5, 'not json')
    rec.write_text("\n".join(lines) + "\n")
    r = export("csv", tmp_path / "out", str(rec))
    assert r.returncode == 0
    warnings = [l for l in r.stderr.splitlines() if "skipped:" in l]
    assert len(warnings) == 2, r.stderr
    assert "%s line 4: skipped: run 'exp-a' rank 0: step: expected an integer" % rec in warnings[0], r.stderr
    assert "%s line 6: skipped: message is not valid JSON" % rec in warnings[1], r.stderr
    with open(tmp_path / "out" / "traintop.csv") as f:
        assert sum(1 for _ in f) - 1 == len(expected_points([recording[0]]))
    for args, needle in [(["--format", "parquet", "--out", str(tmp_path), str(rec)], "--format 'parquet': expected tensorboard or csv"),
                         (["--format", "csv", str(rec)], "--out DIR: expected the directory"),
                         (["--format", "csv", "--out", str(tmp_path)], "expected at least one recording"),
                         (["--format", "csv", "--out", str(tmp_path), str(tmp_path / "none.jsonl")], "none.jsonl: No such file"),
                         (["--format", "csv", "--out", "/proc/nope", str(rec)], "/proc/nope: cannot create the directory")]:
        r = subprocess.run([os.path.join(BIN, "traintop"), "export"] + args, capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, (args, r.stderr)
