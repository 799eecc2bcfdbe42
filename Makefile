# livegan: `make demo` renders the demo video, `make test` runs the test suite.
# Both create the virtual environment (.venv) on first use: the demo installs livegan alone,
# the tests add the extras they drive (dev tools, MIDI, Ray, and the optional Link/NDI/virtual
# camera wrappers, which the core never imports).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.livegan-installed
TEST_STAMP := $(VENV)/.livegan-test-installed

.PHONY: demo test test-fast sysdeps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,midi,cluster,link,ndi,vcam]'
	touch $@

demo: $(STAMP)
	mkdir -p out
	$(BIN)/livegan render --demo -o out/demo.mp4
	@echo "demo video: $(CURDIR)/out/demo.mp4"

# System parts the tests drive for real: PortAudio + JACK (audio), Xvfb (a real window), Mesa EGL,
# chromium + chromedriver (the web remote), Node and npm (an OSCQuery client from npm, tests/js),
# iproute2 + util-linux (network namespaces for the Link and NDI tests).
sysdeps:
	@command -v jackd >/dev/null && command -v Xvfb >/dev/null && ldconfig -p | grep -q libportaudio.so.2 \
	  && command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	  && command -v ip >/dev/null && command -v nsenter >/dev/null \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      libportaudio2 jackd2 libjack-jackd2-dev xvfb x11-apps imagemagick libegl1 libgl1 libgl1-mesa-dri libegl-mesa0 \
	      chromium chromium-driver iproute2 util-linux >/dev/null)
	@command -v node >/dev/null && command -v npm >/dev/null \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null)
	cd tests/js && (test -d node_modules/oscquery || npm ci --no-audit --no-fund --loglevel=error)

test: $(TEST_STAMP) sysdeps
	$(BIN)/python -m pytest -q

bench: $(TEST_STAMP)
	$(BIN)/python tools/bench_render.py

clean:
	rm -rf out .pytest_cache
