# Two entry points: `make demo` and `make test`. Both install into .venv/ first (idempotent).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out/demo
CAMPAIGN ?= campaigns/spring-sale/campaign.csv

.PHONY: install install-system demo test test-soak test-fast coverage lint format docs bench wheel-check backdrop-model clean

install: $(STAMP)

# torch first, from the local CPU wheel: any other torch spec pulls GBs of CUDA wheels.
# Re-runs only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet 'pyicu>=2.13' || echo "warning: PyICU could not be built (it needs libicu-dev, pkg-config and g++: make install-system); lines of Thai, Lao, Khmer and Burmese then break at spaces only"
	touch $(STAMP)

# Debian packages the integration tests use: headless Chromium (dashboard check), DejaVu fonts,
# PostgreSQL (Prefect server on Postgres). Needs root or sudo; skipped when all are present.
# Noto: fonts for the scripts DejaVu lacks (CJK, Thai, Indic, ...); libicu-dev, pkg-config, g++: PyICU's build.
SYSTEM_PACKAGES := chromium fonts-dejavu-core postgresql libgl1 libglib2.0-0 libimage-exiftool-perl \
	fonts-noto-core fonts-noto-cjk libicu-dev pkg-config g++  # libGL: opencv (invisible-watermark); exiftool: XMP test
# Optional: Noto Color Emoji draws emoji in the copy in colour (without it they are left out,
# validate says so, and the tests that draw them skip); a machine without apt goes on.
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
install-system:
	@set -e; SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	if command -v chromium >/dev/null && command -v exiftool >/dev/null && ldconfig -p | grep -q libGL.so.1 && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] \
		&& [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc ] && [ -f /usr/share/fonts/truetype/noto/NotoSansThai-Bold.ttf ] && command -v pkg-config >/dev/null && pkg-config --exists icu-uc; then \
		echo "system packages present"; \
	else \
		{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); } || exit 1; \
	fi; \
	[ -f $(EMOJI_FONT) ] || { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends fonts-noto-color-emoji; } \
		|| echo "warning: fonts-noto-color-emoji could not be installed: emoji in the copy are left out, their tests skip"

demo: install
	$(BIN)/pixio-ads run $(CAMPAIGN) --out $(OUT)
	$(BIN)/pixio-ads export $(OUT) --to meta
	$(BIN)/pixio-ads export $(OUT) --to google

# The whole suite but the soaks, in TEST_WORKERS processes (pytest-xdist; each test module stays
# in one process, the slowest modules start first: tests/conftest.py). docs/development.md has timings.
TEST_WORKERS ?= 3
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: install
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) --durations=15

# The long kill and soak loops (marked `soak`); .ci/run runs them after `make test`.
test-soak: install
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m soak

# Line coverage of pixio_ads/ over `make test` (the test processes; subprocesses they start are not counted).
coverage: install
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) --cov=pixio_ads --cov-report=term --cov-report=json:coverage.json

# Retrain the embedded backdrop model shipped in the package (~25 min on 2 CPU cores; same seed, same weights).
backdrop-model: install
	$(BIN)/python -m pixio_ads.training.backdrop_model pixio_ads/weights/tiny-sd-backdrops --seed 0

# ruff: formatting and lint rules from pyproject.toml; `make format` fixes what it can.
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Reference pages generated from the code (tests/test_docs.py fails while one is stale).
docs: install
	$(BIN)/python docs/generate.py

test-fast: install
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m 'not slow and not soak'

# Build a wheel, install it into a fresh venv, validate and render 2 variants from it.
wheel-check:
	PYTHON=$(PYTHON) bash .ci/wheel_check.sh

bench: install
	$(BIN)/python benchmarks/expand.py

clean:
	rm -rf out .pytest_cache
