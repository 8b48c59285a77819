# Duetto: `make demo` runs the bot on the shipped model; `make test` runs every test. Both set up what
# they need on a fresh machine: a virtual environment in .venv, and (for the tests) Debian's jackd2, tmux, and
# FluidSynth with a General MIDI soundfont (`duetto generate --wav` renders real audio, `duetto jam --synth`
# plays through it).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-fast jack fluidsynth tmux clean

# the runtime alone: numpy, mido, python-rtmidi and the CPU build of ONNX Runtime
$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[cpu]'
	touch $@

# everything: runtime, training (torch 2.13.0 CPU, onnx, music21), the test tools, matplotlib and Textual
$(VENV)/.dev: pyproject.toml $(VENV)/.runtime
	$(BIN)/pip install --quiet -e '.[cpu,train,test,plot,view]'
	touch $@

# the demo draws its piano roll with matplotlib; it renders out/demo.wav when FluidSynth is installed
$(VENV)/.demo: pyproject.toml $(VENV)/.runtime
	$(BIN)/pip install --quiet -e '.[cpu,plot]'
	touch $@

demo: $(VENV)/.demo
	$(BIN)/duetto demo --out out/demo.mid

# JACK with the dummy driver needs no sound card; the tests start their own private server with it
jack:
	@command -v jackd >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends jackd2 >/dev/null; }
	@command -v jackd >/dev/null 2>&1 || { echo "jackd2 could not be installed" >&2; exit 1; }

fluidsynth:
	@{ command -v fluidsynth >/dev/null 2>&1 && [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; } || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	  --no-install-recommends fluidsynth fluid-soundfont-gm >/dev/null; }
	@command -v fluidsynth >/dev/null 2>&1 || { echo "fluidsynth could not be installed" >&2; exit 1; }

# the live view's test plays it as a person would, in a terminal: tmux's
tmux:
	@command -v tmux >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends tmux >/dev/null; }
	@command -v tmux >/dev/null 2>&1 || { echo "tmux could not be installed" >&2; exit 1; }

test: $(VENV)/.dev jack fluidsynth tmux
	$(BIN)/python -m pytest -q

# the unit tier, every few minutes while working: no apt, no JACK server, no training (tests/conftest.py)
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -q -m unit

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
