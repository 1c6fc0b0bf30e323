# traintop — `make`, `make test`, `make demo`, `make bench`, `make install PREFIX=…`, `make wheel`, `make clean`.
# Each module folder is compiled by wildcard, so adding a .c file needs no change here.

PREFIX  ?= /usr/local
VERSION := 0.1.0
CC      ?= cc
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -g
# -fvisibility=hidden: a shared object exports only what is marked TT_API (include/traintop/probe.h).
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) $(CFLAGS) -fPIC -fvisibility=hidden -fopenmp-simd -Iinclude -MMD -MP \
              -DTT_VERSION='"$(VERSION)"' -DTT_PLUGIN_DIR='"$(PREFIX)/lib/traintop/plugins"'
LIBS    := -lnanomsg -lcjson -lopenblas -llapacke -lm -lpthread
# The collector's own: libmicrohttpd serves the Prometheus endpoint (collectors/metrics_http.c).
COLLIBS := -lmicrohttpd
TUILIBS := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw)
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# Python steps run in the project's virtual environment (scripts/install-deps.sh makes it: torch 2.x).
PY      := $(CURDIR)/.venv/bin/python
# The extra check against Debian's torch 1.13 (python3-torch), where it is installed.
PY_DEBIAN := /usr/bin/python3

# The probe library: the probe and the numerical kernels, with the protocol library (proto/, a leaf both
# sides use) linked in. Rule evaluation serves the collector only, so it is the collector's.
PROTO_SRC := $(wildcard proto/*.c)
LIB_SRC  := $(filter-out metrics/rule.c,$(wildcard probes/*.c metrics/*.c))
COLL_SRC := $(filter-out collectors/traintopd.c,$(wildcard collectors/*.c)) metrics/rule.c
TUI_SRC  := $(wildcard tui/*.c tui/core/*.c tui/panels/*.c tui/widgets/*.c cli/*.c) plugins/host.c
MLP_SRC  := examples/mlp.c
TEST_SRC := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,build/$(1)/%.o,$(2))
PROTO_OBJ := $(call obj,rel,$(PROTO_SRC))
LIB_OBJ  := $(call obj,rel,$(LIB_SRC))
COLL_OBJ := $(call obj,rel,$(COLL_SRC))
TUI_OBJ  := $(call obj,rel,$(TUI_SRC))
MLP_OBJ  := $(call obj,rel,$(MLP_SRC))
TESTS    := $(patsubst tests/unit/%.c,build/tests/%,$(TEST_SRC))
SAN_OBJ  := $(call obj,san,$(PROTO_SRC) $(LIB_SRC) $(COLL_SRC) $(filter-out cli/traintop.c,$(TUI_SRC)) $(MLP_SRC))

BINS := bin/traintop bin/traintopd bin/traintop-demo-trainer
# Bundled plugin panels, each a shared object built against include/traintop/plugin.h alone.
PLUGINS := $(patsubst plugins/panels/%.c,lib/traintop/plugins/%.so,$(wildcard plugins/panels/*.c))
# Deliberately broken plugins for the loader's tests.
TEST_PLUGINS := $(patsubst tests/plugins/%.c,build/test-plugins/%.so,$(wildcard tests/plugins/*.c))

SHELL := /bin/bash
.PHONY: all wheel deps fuzz py-tests py-tests-debian test unit-tests ref-tests e2e-tests demo bench install uninstall clean
# The GPU backend (probes/cuda): built when nvcc is found, `make CUDA=0` leaves it out.
include probes/cuda/cuda.mk
all: $(BINS) lib/libtraintop.a lib/libtraintop.so $(PLUGINS) $(if $(filter 1,$(CUDA_ENABLED)),lib/libtraintop_cuda.a lib/libtraintop_cuda.so)

deps:
	@bash scripts/install-deps.sh

# The statistics kernels, the probe and the protocol are the hot path: full vectorisation.
build/rel/metrics/%.o build/san/metrics/%.o build/rel/probes/%.o build/san/probes/%.o build/rel/proto/%.o build/san/proto/%.o: OPT := -O3 -ffp-contract=fast
build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c $< -o $@
build/san/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC san  $<"
	@$(CC) $(ALL_CFLAGS) $(SAN) -c $< -o $@

build/libproto.a: $(PROTO_OBJ)
	rm -f $@ && ar rcs $@ $^
lib/libtraintop.a: $(LIB_OBJ) $(PROTO_OBJ)
	@mkdir -p lib
	rm -f $@ && ar rcs $@ $^
# Linked against the protocol archive, the shared library takes only the protocol code the probe uses.
lib/libtraintop.so: $(LIB_OBJ) build/libproto.a probes/libtraintop.map
	@mkdir -p lib
	$(CC) -shared -Wl,-soname,libtraintop.so.0 -Wl,--version-script=probes/libtraintop.map -o $@ $(LIB_OBJ) build/libproto.a $(LIBS)
lib/traintop/plugins/%.so: plugins/panels/%.c include/traintop/plugin.h
	@mkdir -p $(dir $@)
	@echo "  CC so   $<"
	@$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -fPIC -shared -Iinclude -o $@ $<
build/test-plugins/%.so: tests/plugins/%.c include/traintop/plugin.h
	@mkdir -p $(dir $@)
	@$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -fPIC -shared -Iinclude -o $@ $<

build/libcollect.a: $(COLL_OBJ)
	rm -f $@ && ar rcs $@ $^

bin/traintop: $(TUI_OBJ) build/libcollect.a lib/libtraintop.a
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) -o $@ $(TUI_OBJ) build/libcollect.a lib/libtraintop.a $(TUILIBS) $(COLLIBS) $(LIBS)
bin/traintopd: build/rel/collectors/traintopd.o build/libcollect.a lib/libtraintop.a
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(COLLIBS) $(LIBS)
bin/traintop-demo-trainer: build/rel/examples/demo_trainer.o $(MLP_OBJ) lib/libtraintop.a
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

# Unit tests link the sanitizer build of every module: leaks and UB fail the test.
build/san/libtt.a: $(SAN_OBJ)
	rm -f $@ && ar rcs $@ $^
build/tests/%: tests/unit/%.c build/san/libtt.a
	@mkdir -p build/tests
	$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $< build/san/libtt.a -lcmocka $(TUILIBS) $(COLLIBS) $(LIBS)

# A stand-in for the NVIDIA driver's NVML with known devices, for test_nvml on machines without a GPU.
build/test-nvml/libnvidia-ml.so.1: tests/nvml/fake_nvml.c
	@mkdir -p $(dir $@)
	@$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -fPIC -shared -o $@ $<
build/tests/test_nvml: build/test-nvml/libnvidia-ml.so.1

unit-tests: $(TESTS) $(PLUGINS) $(TEST_PLUGINS)
	@failed=""; for t in $(TESTS); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t || failed="$$failed $$t"; done; \
	 if [ -n "$$failed" ]; then echo "unit suites failed:$$failed"; exit 1; fi

# Numerical reference suites: each tests/ref/test_X.py drives build/tests/X_tool (tests/ref/X_tool.c).
REF_TOOLS := build/tests/refstats $(patsubst tests/ref/%_tool.c,build/tests/%_tool,$(wildcard tests/ref/*_tool.c))
ref-tests: all $(REF_TOOLS)
	@failed=""; \
	 $(PY) tests/ref/test_layerstats.py build/tests/refstats || failed="$$failed layerstats"; \
	 for t in $(filter-out build/tests/refstats,$(REF_TOOLS)); do n=$$(basename $$t _tool); \
	   echo "== tests/ref/test_$$n.py"; $(PY) tests/ref/test_$$n.py $$t || failed="$$failed $$n"; done; \
	 if [ -n "$$failed" ]; then echo "reference suites failed:$$failed"; exit 1; fi

build/tests/refstats: tests/ref/refstats.c lib/libtraintop.a
	@mkdir -p build/tests
	$(CC) $(ALL_CFLAGS) -o $@ $< lib/libtraintop.a $(LIBS)
build/tests/%_tool: tests/ref/%_tool.c lib/libtraintop.a
	@mkdir -p build/tests
	$(CC) $(ALL_CFLAGS) -o $@ $< lib/libtraintop.a $(LIBS)

# The PyTorch probe (python/traintop) against real collectors and torch autograd references.
py-tests: all
	$(PY) -m pytest tests/python -q -p no:cacheprovider

# The same suite under Debian's python3 and torch 1.13: the oldest torch the probe still supports.
py-tests-debian: all
	@if $(PY_DEBIAN) -c 'import torch' 2>/dev/null; then echo "== py-tests under $$($(PY_DEBIAN) -c 'import torch; print("Debian torch", torch.__version__)')"; \
	   $(PY_DEBIAN) -m pytest tests/python -q -p no:cacheprovider; \
	 else echo "py-tests-debian: skipped: $(PY_DEBIAN) has no torch"; fi

e2e-tests: all
	@failed=""; for t in tests/e2e/test_*.sh; do echo "== $$t"; bash $$t || failed="$$failed $$t"; done; \
	 if [ -n "$$failed" ]; then echo "e2e suites failed:$$failed"; exit 1; fi

# libFuzzer over the message validator for a bounded time (FUZZ_SECONDS), seeded from tests/fuzz/corpus.
FUZZ_SECONDS ?= 20
FUZZ_SRC := tests/fuzz/fuzz_ingest.c collectors/ingest.c collectors/store.c collectors/series.c proto/decode.c proto/fastjson.c \
            proto/names.c proto/protocol.c proto/token.c
build/fuzz/fuzz_ingest: $(FUZZ_SRC)
	@mkdir -p build/fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -o $@ $(FUZZ_SRC) -lcjson -lm
fuzz: build/fuzz/fuzz_ingest
	@rm -rf build/fuzz/corpus && mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_ingest -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=1 \
	  -artifact_prefix=build/fuzz/ build/fuzz/corpus tests/fuzz/corpus 2>&1 | grep -E "^(Done|stat::number_of_executed_units|==|SUMMARY)|ERROR"; \
	  test $${PIPESTATUS[0]} -eq 0

test: deps
	$(MAKE) all
	@mkdir -p build
	@set -o pipefail; { $(MAKE) unit-tests && $(MAKE) ref-tests && $(MAKE) fuzz && $(MAKE) py-tests && $(MAKE) cuda-tests && $(MAKE) e2e-tests; } 2>&1 | tee build/test.log
	@# one closing line over every suite: cmocka's "[  PASSED  ] N test(s)", pytest's and ours "N passed, M failed"
	@awk '/^\[  PASSED  \] [0-9]+ test/ { p += $$4 } \
	      /^[A-Za-z_0-9]*:? *[0-9]+ passed, [0-9]+ failed/ { for (i = 1; i <= NF; i++) if ($$i ~ /^passed,?$$/) p += $$(i-1); else if ($$i ~ /^failed/) f += $$(i-1) } \
	      /^[0-9]+ passed in / { p += $$1 } \
	      END { printf "traintop: %d passed, %d failed\n", p, f }' build/test.log

demo: deps
	$(MAKE) all
	bin/traintop demo

BENCHES := $(patsubst bench/%.c,build/bench/%,$(wildcard bench/bench_*.c))
bench: deps
	$(MAKE) all $(BENCHES)
	@for b in $(BENCHES); do OPENBLAS_NUM_THREADS=1 $$b $(if $(QUICK),--quick) || exit 1; done
	@OPENBLAS_NUM_THREADS=1 $(PY) bench/bench_torch.py $(if $(QUICK),--quick)
	@OPENBLAS_NUM_THREADS=1 $(PY) bench/gwa_bench.py $(if $(QUICK),--quick)
	@$(if $(filter 1,$(CUDA_ENABLED)),$(MAKE) --no-print-directory cuda-bench $(if $(QUICK),QUICK=1),true)   # "skipped: no CUDA device" without a GPU

build/bench/bench_demo: bench/bench_demo.c examples/mlp.c lib/libtraintop.a
	@mkdir -p build/bench
	$(CC) $(ALL_CFLAGS) -O3 -o $@ bench/bench_demo.c examples/mlp.c lib/libtraintop.a $(LIBS)
build/bench/bench_tui: bench/bench_tui.c $(filter-out build/rel/cli/traintop.o,$(TUI_OBJ)) build/libcollect.a lib/libtraintop.a
	@mkdir -p build/bench
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $< $(filter-out build/rel/cli/traintop.o,$(TUI_OBJ)) build/libcollect.a lib/libtraintop.a $(TUILIBS) $(COLLIBS) $(LIBS)
build/bench/bench_collector: bench/bench_collector.c build/libcollect.a lib/libtraintop.a
	@mkdir -p build/bench
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $< build/libcollect.a lib/libtraintop.a $(COLLIBS) $(LIBS)
build/bench/bench_prometheus: bench/bench_prometheus.c build/libcollect.a lib/libtraintop.a
	@mkdir -p build/bench
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $< build/libcollect.a lib/libtraintop.a $(COLLIBS) $(LIBS)
build/bench/%: bench/%.c lib/libtraintop.a
	@mkdir -p build/bench
	$(CC) $(ALL_CFLAGS) -O3 -o $@ $< lib/libtraintop.a $(LIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/traintop
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 lib/libtraintop.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 lib/libtraintop.so $(DESTDIR)$(PREFIX)/lib/libtraintop.so.0
	ln -sf libtraintop.so.0 $(DESTDIR)$(PREFIX)/lib/libtraintop.so
	install -m 644 include/traintop/*.h $(DESTDIR)$(PREFIX)/include/traintop/
	$(if $(filter 1,$(CUDA_ENABLED)),install -m 755 lib/libtraintop_cuda.so $(DESTDIR)$(PREFIX)/lib/libtraintop_cuda.so.0 && \
	  ln -sf libtraintop_cuda.so.0 $(DESTDIR)$(PREFIX)/lib/libtraintop_cuda.so,@echo "  (GPU backend not built: nvcc not found)")
	install -d $(DESTDIR)$(PREFIX)/lib/traintop/plugins
	install -m 755 $(PLUGINS) $(DESTDIR)$(PREFIX)/lib/traintop/plugins/
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: traintop\nDescription: traintop probe library (training-dynamics statistics)\nVersion: %s\nLibs: -L$${libdir} -ltraintop\nLibs.private: %s\nCflags: -I$${includedir}\n' \
	  '$(PREFIX)' '$(VERSION)' '$(LIBS)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/traintop.pc
	$(PY) -m pip install -q --no-build-isolation --no-index --no-deps --target $(DESTDIR)$(PREFIX)/lib/python3/dist-packages ./python
	@if [ -f docs/traintop.1 ]; then install -d $(DESTDIR)$(PREFIX)/share/man/man1 && install -m 644 docs/traintop.1 $(DESTDIR)$(PREFIX)/share/man/man1/; fi

# A wheel that installs without root: the Python package with libtraintop.so, traintop and traintopd,
# their shared libraries vendored by auditwheel (scripts/build-wheel.sh; dist/traintop-*-manylinux_*.whl).
wheel: all
	@bash scripts/build-wheel.sh dist

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(BINS))) $(DESTDIR)$(PREFIX)/lib/libtraintop.* $(DESTDIR)$(PREFIX)/lib/libtraintop_cuda.* \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/traintop.pc $(DESTDIR)$(PREFIX)/share/man/man1/traintop.1
	rm -rf $(DESTDIR)$(PREFIX)/include/traintop $(DESTDIR)$(PREFIX)/lib/traintop

clean:
	rm -rf build bin lib

-include $(shell find build -name '*.d' 2>/dev/null)
