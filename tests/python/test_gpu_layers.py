"""traintop.backends.gpu.GpuLayers' bookkeeping without a GPU: which gradient buffer each backend layer reads.

The backend reads W and G through raw device pointers, so the Python side must hand it, at every
sampled step, a pointer to memory that holds the parameter's current gradient and stays alive until
the step is collected: p.grad itself when it is contiguous and of the parameter's dtype, a zero buffer
(large enough before any layer points at it) when it is None, a contiguous copy otherwise. Here a
stand-in for libtraintop_cuda records every binding, and the test reads the bytes behind each bound
pointer (CPU tensors stand in for device memory) and compares them with the gradient."""
import ctypes
import gc

import pytest

torch = pytest.importorskip("torch")

from traintop import cuda as tcuda  # noqa: E402
from traintop.backends.gpu import GpuBackend, GpuLayers  # noqa: E402


class FakeBackend:
    """The C functions GpuLayers calls, recording what each layer reads."""

    def __init__(self):
        self.layers = []          # [w_ptr, g_ptr, nbytes]
        self.rebinds = 0
        self.closed = False
        self.refuse = set()       # layer names whose registration fails (out of device memory, say)
        self.opened = 0
        self.steps, self.collects = [], []
        self.failing = set()      # handles whose tt_cuda_step fails (a CUDA error)
        self.note, self.yields = b"", []
        self.plans = []           # (step, sampled, next_sampled) of every step enqueued

    def tt_cuda_open(self, opts, err, errlen):
        self.opened += 1
        self.timing_asked = opts._obj.timing
        self.source = opts._obj.timing            # CUPTI when asked for (1), events (2), off (0)
        return self.opened

    def tt_cuda_timing_source(self, h):
        return self.source

    def tt_cuda_timing_note(self, h):
        return self.note

    def tt_cuda_use_event_timing(self, h, why):
        self.yields.append(why)
        self.source, self.note = 2, why + b": GPU time from CUDA events"
        return 0

    def tt_cuda_add_layer(self, h, name, rows, cols, wdt, w, gdt, g, err, errlen):
        if name.decode() in self.refuse:
            err.value = b"cudaMalloc of 1024 bytes: out of memory"
            return -1
        self.layers.append([w, g, rows * cols * (4 if wdt == tcuda.F32 else 2)])
        return len(self.layers) - 1

    def tt_cuda_rebind_layer(self, h, i, w, g):
        self.layers[i][0], self.layers[i][1] = w, g
        self.rebinds += 1
        return 0

    def tt_cuda_step_sampled(self, h, step, sampled, next_sampled, err, errlen):
        self.plans.append((step, sampled, next_sampled))
        self.steps.append(h)
        if h in self.failing:
            err.value = b"an illegal memory access was encountered"
            return -1
        return 0

    def tt_cuda_collect(self, h, wait, err, errlen):
        self.collects.append(h)
        return 0

    def tt_cuda_device_bytes(self, h):
        return 0

    def tt_cuda_close(self, h):
        self.closed = True

    def grad_bytes(self, i):
        _, g, n = self.layers[i]
        return ctypes.string_at(g, n)


class FakeStream:
    cuda_stream = 0

    def wait_stream(self, other):
        pass


@pytest.fixture
def backend(monkeypatch):
    fake = FakeBackend()
    monkeypatch.setattr(tcuda, "load", lambda: fake)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: FakeStream())
    return fake


def as_bytes(t):
    t = t.detach().contiguous()
    return ctypes.string_at(t.data_ptr(), t.numel() * t.element_size())


def test_gradient_bindings_follow_the_parameters(backend):
    torch.manual_seed(0)
    a = torch.nn.Parameter(torch.randn(6, 5))
    b = torch.nn.Parameter(torch.randn(7).to(torch.bfloat16))
    c = torch.nn.Parameter(torch.randn(40, 3))           # the largest: the zero buffer must fit it
    gl = GpuLayers(None, "cpu", every=1, timing=False)
    for name, p in (("a", a), ("b", b), ("c", c)):
        rows, cols = (p.shape[0], p.shape[1]) if p.dim() == 2 else (1, p.numel())
        gl.add(name, p, rows, cols)

    # no gradients yet: every layer reads zeros, from a buffer big enough for the largest
    gl.sync_grads()
    for i, p in enumerate((a, b, c)):
        assert backend.grad_bytes(i) == b"\0" * (p.numel() * p.element_size())

    # contiguous gradients of the parameter's dtype are read in place
    a.grad = torch.randn(6, 5)
    b.grad = torch.randn(7).to(torch.bfloat16)
    c.grad = torch.randn(40, 3)
    gl.sync_grads()
    assert [l[1] for l in backend.layers] == [a.grad.data_ptr(), b.grad.data_ptr(), c.grad.data_ptr()]
    n = backend.rebinds
    checks = []
    real_ok = GpuLayers._grad_ok
    GpuLayers._grad_ok = staticmethod(lambda p, g: checks.append(1) or real_ok(p, g))
    try:
        gl.sync_grads()                                    # nothing moved: no rebind, no per-parameter checks
    finally:
        GpuLayers._grad_ok = staticmethod(real_ok)
    assert backend.rebinds == n and not checks

    # zero_grad(set_to_none=True) then new gradients: new addresses, bound again
    a.grad = None
    a.grad = torch.randn(6, 5) * 3
    gl.sync_grads()
    assert backend.grad_bytes(0) == as_bytes(a.grad)

    # a non-contiguous gradient and a sparse one (nn.Embedding(sparse=True)): dense contiguous
    # copies, alive until the next sync even when nothing else holds them
    c.grad = torch.randn(3, 40).t()
    a.grad = torch.randn(6, 5).to_sparse()
    gl.sync_grads()
    gc.collect()
    junk = [torch.full((40, 3), 7.0) for _ in range(8)] + [torch.full((6, 5), 7.0) for _ in range(8)]  # reuse freed memory
    assert backend.grad_bytes(2) == as_bytes(c.grad)
    assert backend.grad_bytes(0) == as_bytes(a.grad.to_dense())
    del junk

    # a gradient goes away again: zeros
    c.grad = None
    gl.sync_grads()
    assert backend.grad_bytes(2) == b"\0" * (c.numel() * 4)
    gl.close()
    assert backend.closed


def test_zero_buffer_grows_before_binding(backend):
    """A larger parameter losing its gradient after a smaller one: every layer on zeros must point
    into the new, larger buffer (pointing at the old one would read freed memory)."""
    small = torch.nn.Parameter(torch.randn(4, 4))
    big = torch.nn.Parameter(torch.randn(64, 64))
    gl = GpuLayers(None, "cpu", every=1, timing=False)
    gl.add("small", small, 4, 4)
    gl.add("big", big, 64, 64)
    big.grad = torch.randn(64, 64)
    gl.sync_grads()                                        # zero buffer sized for `small` only
    big.grad = None
    gl.sync_grads()
    gc.collect()
    junk = [torch.full((4,), 7.0) for _ in range(8)]        # reuse freed memory
    assert backend.layers[0][1] == backend.layers[1][1]    # one zero buffer
    assert backend.grad_bytes(0) == b"\0" * 64
    assert backend.grad_bytes(1) == b"\0" * (64 * 64 * 4)
    del junk
    gl.close()


def test_a_refused_layer_leaves_the_backend_working(backend):
    """One layer the backend cannot take (no device memory for its snapshots): add() raises for it,
    with the backend's reason, and the backend goes on serving the others (the probe then gives that
    parameter the torch-ops path)."""
    a, b, c = (torch.nn.Parameter(torch.randn(4, 4)) for _ in range(3))
    backend.refuse.add("b")
    gl = GpuLayers(None, "cpu", every=1, timing=False)
    assert gl.add("a", a, 4, 4) == 0
    with pytest.raises(tcuda.TraintopError, match="GPU layer b: cudaMalloc of 1024 bytes: out of memory"):
        gl.add("b", b, 4, 4)
    assert gl.failed is None
    assert gl.add("c", c, 4, 4) == 1
    assert gl.params == [a, c]
    gl.close()


def test_a_cuda_error_stops_that_device_only(backend):
    """A CUDA error while enqueuing a step stops that device's backend: it is reported (the watcher
    warns once per key), and that device is neither stepped nor collected again; the others go on."""
    warned = []
    gb = GpuBackend(None, every=1, warn=lambda key, msg: warned.append((key, msg)))
    a, b = torch.nn.Parameter(torch.randn(4, 4)), torch.nn.Parameter(torch.randn(4, 4))
    bad, good = GpuLayers(None, "cpu", every=1, timing=False), GpuLayers(None, "cpu", every=1, timing=False)
    bad.add("a", a, 4, 4)
    good.add("b", b, 4, 4)
    gb.devices = {"bad": bad, "good": good}
    backend.failing.add(bad.h)
    gb.prepare(1, True, True)
    gb.collect()
    assert bad.failed and not good.failed
    assert warned == [("gpu-fail", "traintop: GPU statistics stopped: GPU statistics of step 1: "
                                   "an illegal memory access was encountered")]
    gb.prepare(2, False, True)
    gb.collect()
    assert backend.steps == [bad.h, good.h, good.h] and backend.collects == [good.h, good.h]
    # the watcher's schedule reaches the backend as it is (the overhead budget's, or every=N)
    assert backend.plans == [(1, 1, 1), (1, 1, 1), (2, 0, 1)]
    assert gb.counters()["gpu_layers"] == 2
    gb.close()
    assert gb.devices == {}


def test_batch_dtype_follows_autocast():
    """Per-sample batches of mixed element types: under autocast a Linear's input is float32 and its
    output (and δ) bfloat16 or float16; the matmul ran on the 16-bit type, so the batch takes it."""
    f32, bf16, f16 = torch.float32, torch.bfloat16, torch.float16
    assert GpuLayers.batch_dtype({bf16}) is bf16
    assert GpuLayers.batch_dtype({f32}) is f32
    assert GpuLayers.batch_dtype({f32, bf16}) is bf16
    assert GpuLayers.batch_dtype({f16, f32}) is f16
    assert GpuLayers.batch_dtype({f16, bf16}) is f32          # two 16-bit types: neither is exact for the other
    assert GpuLayers.batch_dtype({f32, torch.float64}) is f32
    assert GpuLayers.batch_dtype({torch.float64}) is f32      # the backend reads no float64


def test_cupti_goes_to_a_later_torch_profiler(backend, monkeypatch):
    """CUPTI timing beside torch.profiler: a backend opened while it records asks for event timing
    (timing 2) and says so once; one that had CUPTI gives it up at its next enqueue after a profiler
    starts (tt_cuda_use_event_timing, once), and the watcher warns once with the reason."""
    warned = []
    gb = GpuBackend(None, every=1, warn=lambda key, msg: warned.append((key, msg)))
    gl = GpuLayers(None, "cpu", every=1, timing=True)
    assert backend.timing_asked == 1 and gl.cupti and gl.timing_note() == ""
    gl.add("a", torch.nn.Parameter(torch.randn(4, 4)), 4, 4)
    gb.devices = {"d": gl}
    gb.prepare(1, True, True)
    gb.collect()
    assert backend.yields == [] and warned == []
    monkeypatch.setattr(torch.autograd.profiler, "_is_profiler_enabled", True)
    gb.prepare(2, True, True)
    gb.prepare(3, True, True)
    gb.collect()
    gb.collect()
    assert backend.yields == [b"torch.profiler started"] and not gl.cupti
    assert warned == [("gpu-timing-yield", "traintop: torch.profiler started: GPU time from CUDA events")]
    gb.close()
    backend.note = b""                                       # a fresh backend has no note of its own
    late = GpuLayers(None, "cpu", every=1, timing=True)      # opened while the profiler records
    assert backend.timing_asked == 2 and not late.cupti
    assert late.timing_note() == "torch.profiler is running: GPU time from CUDA events"
    late.close()


def test_conv1d_batch_in_the_dense_layout():
    """What a dense backend is handed for a transformers Conv1D (weight stored nx × nf): the GPU backend's
    tt_cuda_dense_batch takes it as the CPU's tt_probe_dense_batch does — g_i = grad_scale·Σ_t D_it A_itᵀ,
    rows × cols, against the weight layer as registered — and with those semantics the weight call gives
    each sample's own weight gradient in the stored layout (roles of a and δ exchanged, no Z), the bias
    call (a layer of its own, input 1, δ summed over tokens) its own bias gradient; the batch element type
    is the GPU backend's choice. Checked against per-sample autograd in float64, no GPU needed."""
    from types import SimpleNamespace
    from traintop.persample import PerSample
    calls = []

    class Owner:
        persample_device, device_loss_scale = "cpu", False
        batch_dtype = staticmethod(GpuLayers.batch_dtype)

        def dense_batch(self, wl, bl, A, D, Z, scale, gbar_scale, loss_scale=None):
            calls.append((wl, bl, A.clone(), D.clone(), Z, scale, gbar_scale))

    B, T, nx, nf = 3, 4, 5, 6
    g = torch.Generator().manual_seed(1)
    W = torch.randn(nx, nf, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(nf, generator=g, dtype=torch.float64, requires_grad=True)
    a = torch.randn(B, T, nx, generator=g, dtype=torch.float64)
    z = a @ W + b
    per_sample = torch.sin(z).sum((1, 2))                  # each sample's own loss
    dz, = torch.autograd.grad(per_sample.mean(), z, retain_graph=True)
    ps = PerSample(SimpleNamespace(options=SimpleNamespace(loss_reduction="mean", scaler=None), _warn=None))
    ps._conv1d(Owner(), 7, 8, B, [a[:, :2].float(), a[:, 2:].float()], [dz[:, :2].float(), dz[:, 2:].float()])
    (wl, bl, A, D, Z, scale, _), (bwl, bbl, A1, Dsum, Z1, bscale, _) = calls
    assert (wl, bl, bwl, bbl, Z, Z1, scale, bscale) == (7, -1, 8, -1, None, None, B, B)
    assert A.shape == (B, T, nf) and D.shape == (B, T, nx) and A1.shape == (B, 1, 1) and Dsum.shape == (B, 1, nf)
    assert A.dtype == D.dtype == A1.dtype == Dsum.dtype == torch.float32
    for i in range(B):
        gw, gb = torch.autograd.grad(per_sample[i], (W, b), retain_graph=True)
        got_w = scale * torch.einsum("tr,tc->rc", D[i].double(), A[i].double())      # rows × cols = nx × nf
        got_b = bscale * torch.einsum("tr,tc->rc", Dsum[i].double(), A1[i].double())  # nf × 1
        assert torch.allclose(got_w, gw, rtol=1e-5, atol=1e-6), i
        assert torch.allclose(got_b[:, 0], gb, rtol=1e-5, atol=1e-6), i
