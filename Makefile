# Two commands: `make demo` and `make test`. Each bootstraps .venv (pip, no conda) when missing.
PYTHON   ?= python3
VENV     ?= .venv
# CPU build of torch by default. For a CUDA build, install it into .venv first, e.g.
#   make venv TORCH_SPEC="torch==2.13.0" PIP_TORCH_ARGS="--index-url <PyTorch CUDA wheel index>"
TORCH_SPEC     ?= torch==2.13.0
PIP_TORCH_ARGS ?=
CORES    ?= 2
CONFIG   ?= config/config.yaml

BIN      := $(VENV)/bin
STAMP    := $(VENV)/.seqlrp-installed
# numba's on-disk cache of compiled kernels (seqlrp's, TOMTOM's, TF-MoDISco's): in the venv, never in src/
NUMBA_CACHE := $(CURDIR)/$(VENV)/numba-cache

.PHONY: demo test test-fast system-deps venv lint check-config bench report-check docs clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet $(PIP_TORCH_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# the LRP tests compare against Zennit; --no-deps keeps pip from swapping in a CUDA torch
	$(BIN)/python -m pip install --quiet --no-deps "zennit==0.5.1"
	# LXT (the AttnLRP authors' library): the reference the attention rules are tested against
	$(BIN)/python -m pip install --quiet --no-deps "lxt==2.1"
	# model files from outside (seqlrp.models.files): ONNX and .safetensors weights; onnx2torch declares
	# torchvision, which seqlrp stubs and which would pull in another torch: --no-deps again
	$(BIN)/python -m pip install --quiet "onnx>=1.15" "safetensors>=0.4"
	# onnxscript: torch.onnx.export's default (dynamo-based) exporter needs it; the tests export with it
	$(BIN)/python -m pip install --quiet "onnxscript>=0.5"
	$(BIN)/python -m pip install --quiet --no-deps "onnx2torch>=1.5"
	# models from the field for the LRP tests (bpnet-lite's BPNet, ChromBPNet, gReLU's conv models) and the peers'
	# DeepLIFT/SHAP; their other dependencies are seqlrp's own, --no-deps keeps the CPU torch
	$(BIN)/python -m pip install --quiet --no-deps "tangermeme==1.6.0" "bpnet-lite==1.1.0" \
		"grelu==1.1.0" "enformer-pytorch==0.8.12" "einops==0.8.2"
	# numba compiles memelite's TOMTOM kernels (about a minute of CPU) into a cache in the venv, once,
	# instead of in the first motifs job of every run and in the tests
	NUMBA_CACHE_DIR="$(NUMBA_CACHE)" $(BIN)/python -m seqlrp.analysis.tomtom --warm-numba-cache \
		|| echo "numba cache not warmed: TOMTOM compiles on first use"
	# tfmodisco-lite's kernels (15 s), as the first motifs job would compile them
	NUMBA_CACHE_DIR="$(NUMBA_CACHE)" $(BIN)/python -m seqlrp.analysis.motifs --warm-numba-cache \
		|| echo "numba cache not warmed: tfmodisco-lite compiles on first use"
	# and memelite's FIMO (the tests check seqlrp's motif scan against it; 10 s to compile)
	NUMBA_CACHE_DIR="$(NUMBA_CACHE)" $(BIN)/python -c "import numpy, memelite; \
		memelite.fimo({'m': numpy.full((4, 6), 0.25)}, numpy.eye(4)[numpy.arange(40) % 4].T[None].astype('float64'))" \
		|| echo "numba cache not warmed: FIMO compiles on first use"
	# igv.js for results/browser.html: npm package igv at the version and SHA-512 pinned in
	# seqlrp.report.igv_bundle, from the npm registry, into the venv (the page embeds it; nothing is fetched
	# when it is viewed)
	$(BIN)/python -m seqlrp.report.igv_bundle install
	touch $@

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" NUMBA_CACHE_DIR="$(NUMBA_CACHE)" $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG)

# a missing optional test dependency fails instead of skipping (tests/optional.py); numba loads the
# kernels make venv compiled
SEQLRP_REQUIRE_TEST_DEPS ?= 1
TEST_ENV := SEQLRP_REQUIRE_TEST_DEPS=$(SEQLRP_REQUIRE_TEST_DEPS) NUMBA_CACHE_DIR="$(NUMBA_CACHE)"

# programs the tests run: Chromium (report and page rendering) and htslib's tabix; installed with
# apt-get where missing (as root, as CI runs), else named for the user to install
SYSTEM_DEPS := chromium tabix
system-deps:
	@missing=""; for tool in $(SYSTEM_DEPS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian packages:$$missing"; apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "missing programs:$$missing (Debian: apt-get install$$missing)"; fi; fi

test: $(STAMP) system-deps
	# the tests are mostly single-threaded: one worker per core (pytest-xdist); a Snakemake subprocess
	# gets the cores of its worker (tests/conftest.py), and the tiny demo run is built once for all
	PATH="$(CURDIR)/$(BIN):$$PATH" $(TEST_ENV) $(BIN)/python -m pytest -q -n $(CORES) --dist worksteal --durations=15

# the inner loop: every test that starts no Snakemake subprocess (marker `workflow`)
test-fast: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(TEST_ENV) $(BIN)/python -m pytest -q -n $(CORES) --dist worksteal -m "not workflow"

lint: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --lint --configfile $(CONFIG)

# the whole start-up plan of a run (seqlrp.stages.plan: schema, names, model route, input files), one
# line per problem (file:line: problem), without starting Snakemake; installs nothing when .venv exists
check-config:
	@test -x $(BIN)/python || $(MAKE) venv
	$(BIN)/python -m seqlrp.stages.plan config/config.yaml $(CONFIG)

bench: $(STAMP)
	$(BIN)/python benchmarks/extract.py
	$(BIN)/python benchmarks/variants.py
	# the browser page: a synthetic 20,000-window run, and the demo's page when there is one
	$(BIN)/python benchmarks/browser.py $(if $(wildcard results/browser.html),--page results/browser.html)

# renders results/report.html in headless Chromium (Debian: apt-get install chromium), fails when the
# page misses a section or references anything outside itself; writes results/report.png to look at
report-check: $(STAMP)
	$(BIN)/python -m seqlrp.report.render_check results/report.html --screenshot results/report.png

# the documentation site: docs/ (MkDocs, API reference by mkdocstrings) -> site/; --strict turns every
# warning (a broken link or anchor, a page missing from the nav, an API reference that does not resolve)
# into a failure, as tests/test_docs.py does
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf results .snakemake
