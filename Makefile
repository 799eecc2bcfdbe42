# livegan: `make demo` renders the demo video, `make test` runs the test suite.
# Both create the virtual environment (.venv) on first use.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.livegan-installed

.PHONY: demo test test-fast sysdeps bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e '.[dev,midi,link,ndi,vcam]'
	touch $@

demo: $(STAMP)
	$(BIN)/livegan render --demo -o out/demo.mp4
	@echo "demo video: $(CURDIR)/out/demo.mp4"

# System parts the tests drive for real: PortAudio + JACK (audio), Xvfb (a real window), Mesa EGL,
# iproute2 + util-linux (network namespaces for the Link and NDI tests).
sysdeps:
	@command -v jackd >/dev/null && command -v Xvfb >/dev/null && command -v ip >/dev/null \
	  && command -v nsenter >/dev/null && ldconfig -p | grep -q libportaudio.so.2 \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      libportaudio2 jackd2 libjack-jackd2-dev xvfb x11-apps imagemagick libegl1 libgl1 libgl1-mesa-dri libegl-mesa0 \
	      iproute2 util-linux >/dev/null)

test: $(STAMP) sysdeps
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python tools/bench_render.py

clean:
	rm -rf out .pytest_cache
