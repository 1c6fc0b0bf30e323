# probes/cuda/cuda.mk — the GPU backend (probes/cuda), its tests and its bench.
# Included by the top Makefile after its own variables (`include probes/cuda/cuda.mk`); standalone
# check: `make -f Makefile -f probes/cuda/cuda.mk cuda-all`.
#
#   CUDA ?= auto   build when $(CUDA_HOME)/bin/nvcc exists;  CUDA=0: leave everything out;
#                  CUDA=1: build (fails without nvcc).
# Defines for the top Makefile:
#   CUDA_ENABLED   1 or 0
#   CUDA_LIBS      link flags of a program using lib/libtraintop_cuda.a (after lib/libtraintop.a)
#   CUDA_TESTS     test binaries (each exits 0 with "skipped: no CUDA device" where there is no GPU)
#   CUDA_BENCHES   bench binaries (same skip)
# Targets: cuda-all (libraries), cuda-tests (build and run the tests, the torch test included),
#          cuda-bench (build and run the benches), cuda-clean.

# This file defines targets: keep the includer's default goal (`make` alone still builds `all`) even
# when it is included before the top Makefile's first rule.
tt_cuda_saved_goal := $(.DEFAULT_GOAL)

CUDA      ?= auto
CUDA_HOME ?= /usr/local/cuda
NVCC      := $(CUDA_HOME)/bin/nvcc

# cuBLAS: the toolkit's own, else the PyPI wheel (nvidia-cublas) that scripts/install-deps.sh puts into
# the project's .venv where the toolkit came without it. The wheel ships only libcublas.so.13.
CUBLAS_HOME ?= $(firstword $(patsubst %/include/cublas_v2.h,%,$(wildcard $(CUDA_HOME)/include/cublas_v2.h \
                 $(CURDIR)/.venv/lib/python3*/site-packages/nvidia/cu13/include/cublas_v2.h)))
CUBLAS_LIBDIR := $(firstword $(wildcard $(CUBLAS_HOME)/lib64/libcublas.so $(CUBLAS_HOME)/lib/libcublas.so.13))

ifeq ($(CUDA),0)
CUDA_ENABLED := 0
else ifeq ($(CUDA),auto)
CUDA_ENABLED := $(if $(and $(wildcard $(NVCC)),$(CUBLAS_HOME)),1,0)
else
CUDA_ENABLED := 1
endif

CUDA_TESTS   :=
CUDA_BENCHES :=
CUDA_LIBS    :=

ifeq ($(CUDA_ENABLED),1)

# CUPTI ships in extras/CUPTI on older toolkits and beside the runtime on newer ones.
CUPTI_LIBDIR := $(patsubst %/,%,$(dir $(firstword $(wildcard $(CUDA_HOME)/extras/CUPTI/lib64/libcupti.so \
                  $(CUDA_HOME)/targets/x86_64-linux/lib/libcupti.so $(CUDA_HOME)/lib64/libcupti.so))))
CUPTI_INC    := $(firstword $(wildcard $(CUDA_HOME)/extras/CUPTI/include) $(CUDA_HOME)/include)
CUDA_LIBDIR  := $(CUDA_HOME)/lib64
CUDA_INC     := -I$(CUDA_HOME)/include -I$(CUBLAS_HOME)/include

# sm_80 (A100) and sm_90 (H100/H200) machine code, plus sm_90 PTX for newer GPUs (nvcc 13 dropped
# everything before sm_75).
CUDA_ARCH    ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
                -gencode arch=compute_90,code=compute_90
NVCCFLAGS    ?= -O3 -lineinfo
CUDA_NVCC     = $(NVCC) -std=c++17 $(CUDA_ARCH) $(NVCCFLAGS) -Xcompiler -fPIC,-Wall,-Wextra -Werror all-warnings \
                -Iinclude -Iprobes/cuda -I$(CUPTI_INC) -I$(CUBLAS_HOME)/include -MMD -MP
CUDA_CC       = $(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -fPIC -Iinclude -Iprobes/cuda \
                $(CUDA_INC) -I$(CUPTI_INC) -MMD -MP
CUBLAS_LINK  := $(if $(filter %.so.13,$(CUBLAS_LIBDIR)),-l:libcublas.so.13,-lcublas)
CUDA_LIBS    := -L$(CUDA_LIBDIR) -L$(CUPTI_LIBDIR) -L$(dir $(CUBLAS_LIBDIR)) -Wl,-rpath,$(CUDA_LIBDIR) \
                -Wl,-rpath,$(CUPTI_LIBDIR) -Wl,-rpath,$(patsubst %/,%,$(dir $(CUBLAS_LIBDIR))) \
                $(CUBLAS_LINK) -lcupti -lcudart -lstdc++ -ldl -lpthread -lm

CUDA_CU_SRC  := $(wildcard probes/cuda/*.cu)
CUDA_C_SRC   := $(wildcard probes/cuda/*.c)
CUDA_OBJ     := $(patsubst %.cu,build/cuda/%.o,$(CUDA_CU_SRC)) $(patsubst %.c,build/cuda/%.o,$(CUDA_C_SRC))
CUDA_TESTS   := build/tests/test_cuda_host build/tests/test_cuda_gpu
CUDA_BENCHES := build/bench/bench_cuda

build/cuda/%.o: %.cu
	@mkdir -p $(dir $@)
	@echo "  NVCC    $<"
	@$(CUDA_NVCC) -c $< -o $@
build/cuda/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC cuda $<"
	@$(CUDA_CC) -c $< -o $@

lib/libtraintop_cuda.a: $(CUDA_OBJ)
	@mkdir -p lib
	rm -f $@ && ar rcs $@ $^
# The shared library needs libtraintop's probe (tt_probe_layer_stats): it names libtraintop.so.0 and
# finds it beside itself; the soname link makes the in-tree lib/ directory usable as is.
lib/libtraintop.so.0: lib/libtraintop.so
	ln -sf libtraintop.so $@
lib/libtraintop_cuda.so: $(CUDA_OBJ) lib/libtraintop.so lib/libtraintop.so.0
	@mkdir -p lib
	$(CC) -shared -Wl,-soname,libtraintop_cuda.so.0 -o $@ $(CUDA_OBJ) -Llib -ltraintop -Wl,-rpath,'$$ORIGIN' $(CUDA_LIBS)

# Host tests: the plan, the shared arithmetic against the CPU reference, timing, the no-device path.
# Sanitized like the unit suites; CUDA's driver needs the ASan shadow gap left unprotected.
CUDA_SAN ?= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
build/tests/test_cuda_host: tests/cuda/test_cuda_host.c probes/cuda/tt_cuda_host.c $(wildcard probes/cuda/*.h) lib/libtraintop_cuda.a lib/libtraintop.a
	@mkdir -p build/tests
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g $(CUDA_SAN) -Iinclude -Iprobes/cuda -o $@ \
	  tests/cuda/test_cuda_host.c probes/cuda/tt_cuda_host.c \
	  $(filter-out build/cuda/probes/cuda/tt_cuda_host.o,$(CUDA_OBJ)) lib/libtraintop.a -lcmocka $(CUDA_LIBS) $(LIBS)
build/tests/test_cuda_gpu: tests/cuda/test_cuda_gpu.c $(wildcard probes/cuda/*.h) lib/libtraintop_cuda.a lib/libtraintop.a
	@mkdir -p build/tests
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -Iinclude -Iprobes/cuda $(CUDA_INC) -o $@ \
	  $< lib/libtraintop_cuda.a lib/libtraintop.a $(CUDA_LIBS) $(LIBS)
# The bench's torch-free baseline (per-tensor operations) is CUDA code of its own.
build/bench/bench_cuda: bench/cuda/bench_cuda.c build/cuda/bench/cuda/pertensor.o $(wildcard probes/cuda/*.h) lib/libtraintop_cuda.a lib/libtraintop.a
	@mkdir -p build/bench
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -Iinclude -Iprobes/cuda -Ibench/cuda $(CUDA_INC) -o $@ \
	  $< build/cuda/bench/cuda/pertensor.o lib/libtraintop_cuda.a lib/libtraintop.a $(CUDA_LIBS) $(LIBS)

.PHONY: cuda-all cuda-tests cuda-bench cuda-clean
cuda-all: lib/libtraintop_cuda.a lib/libtraintop_cuda.so
# The benches are built here too (not run), so `make test` keeps them compiling.
cuda-tests: cuda-all $(CUDA_TESTS) $(CUDA_BENCHES)
	@failed=""; for t in $(CUDA_TESTS); do echo "== $$t"; \
	   ASAN_OPTIONS=protect_shadow_gap=0:detect_leaks=1 $$t || failed="$$failed $$t"; done; \
	 echo "== tests/cuda/test_cuda_torch.py"; \
	 TRAINTOP_CUDA_LIB=lib/libtraintop_cuda.so $(or $(PY),python3) tests/cuda/test_cuda_torch.py || failed="$$failed test_cuda_torch.py"; \
	 if [ -n "$$failed" ]; then echo "cuda suites failed:$$failed"; exit 1; fi
cuda-bench: cuda-all $(CUDA_BENCHES)
	@for b in $(CUDA_BENCHES); do $$b $(if $(QUICK),--quick) || exit 1; done
	@TRAINTOP_CUDA_LIB=lib/libtraintop_cuda.so $(or $(PY),python3) bench/cuda/bench_cuda_torch.py $(if $(QUICK),--quick)
	@TRAINTOP_CUDA_LIB=lib/libtraintop_cuda.so $(or $(PY),python3) bench/cuda/bench_gpt.py $(if $(QUICK),--quick)
cuda-clean:
	rm -rf build/cuda lib/libtraintop_cuda.a lib/libtraintop_cuda.so $(CUDA_TESTS) $(CUDA_BENCHES)

else

.PHONY: cuda-all cuda-tests cuda-bench cuda-clean
cuda-all cuda-tests cuda-bench:
	@echo "cuda: disabled (CUDA=$(CUDA), nvcc $(if $(wildcard $(NVCC)),found,not found at $(NVCC)), cuBLAS $(if $(CUBLAS_HOME),found,not found: scripts/install-deps.sh installs it))"
cuda-clean:
	rm -rf build/cuda lib/libtraintop_cuda.a lib/libtraintop_cuda.so

endif

.DEFAULT_GOAL := $(tt_cuda_saved_goal)
