# Duetto: `make demo` runs the bot on the shipped model; `make test` runs every test. Both set up what
# they need on a fresh machine: a virtual environment in .venv, FluidSynth with a General MIDI soundfont
# (the demo's WAV, `duetto generate --wav`, `duetto jam --synth`), and for the tests Debian's jackd2, tmux,
# Ardour and MMA.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
USER_ID ?= $(shell id -u)
SUDO := $(if $(filter 0,$(USER_ID)),,sudo)
# Debian's packages, installed quietly: as root, or through sudo
APT_INSTALL = $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
  --no-install-recommends
CAN_APT = { command -v apt-get >/dev/null 2>&1 && { [ -z "$(SUDO)" ] || command -v sudo >/dev/null 2>&1; }; }
HAVE_FLUIDSYNTH = { command -v fluidsynth >/dev/null 2>&1 && [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; }

.PHONY: demo demo-sound test test-fast jack fluidsynth tmux ardour mma clean

# the runtime alone: numpy, mido, python-rtmidi and the CPU build of ONNX Runtime
$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[cpu]'
	touch $@

# everything: runtime, training (torch 2.13.0 CPU, onnx, music21), the test tools, matplotlib, Textual, and
# the Link and OSC bindings (`jam --link`, `jam --osc`)
$(VENV)/.dev: pyproject.toml $(VENV)/.runtime
	$(BIN)/pip install --quiet -e '.[cpu,train,test,plot,view,link,osc]'
	touch $@

# the demo draws its piano roll with matplotlib; it renders out/demo.wav when FluidSynth is installed
$(VENV)/.demo: pyproject.toml $(VENV)/.runtime
	$(BIN)/pip install --quiet -e '.[cpu,plot]'
	touch $@

demo: $(VENV)/.demo demo-sound
	$(BIN)/duetto demo --out out/demo.mid

# the demo's sound, out/demo.wav: FluidSynth and a General MIDI soundfont, installed as for the tests where
# apt-get can be run (as root, or through sudo). Where it cannot (no root nor sudo, another OS) nothing
# stops: the demo writes the MIDI file and the picture, and says in one line what to install for the WAV.
demo-sound:
	@$(HAVE_FLUIDSYNTH) || ! $(CAN_APT) || { $(APT_INSTALL) fluidsynth fluid-soundfont-gm >/dev/null; } || true

# JACK with the dummy driver needs no sound card; the tests start their own private server with it
jack:
	@command -v jackd >/dev/null 2>&1 || { $(APT_INSTALL) jackd2 >/dev/null; }
	@command -v jackd >/dev/null 2>&1 || { echo "jackd2 could not be installed" >&2; exit 1; }

fluidsynth:
	@$(HAVE_FLUIDSYNTH) || { $(APT_INSTALL) fluidsynth fluid-soundfont-gm >/dev/null; }
	@command -v fluidsynth >/dev/null 2>&1 || { echo "fluidsynth could not be installed" >&2; exit 1; }

# the live view's test plays it as a person would, in a terminal: tmux's
tmux:
	@command -v tmux >/dev/null 2>&1 || { $(APT_INSTALL) tmux >/dev/null; }
	@command -v tmux >/dev/null 2>&1 || { echo "tmux could not be installed" >&2; exit 1; }

# a real DAW in the suite (tests/jam/test_ardour.py): Ardour's headless Lua session host, without the GUI's
# recommends (about 30 s to install)
ardour:
	@command -v ardour7-lua >/dev/null 2>&1 || { $(APT_INSTALL) ardour >/dev/null; }
	@command -v ardour7-lua >/dev/null 2>&1 || { echo "ardour could not be installed" >&2; exit 1; }

# band music rendered for training (`duetto data build mma:all`): Debian's MMA and its groove library
mma:
	@command -v mma >/dev/null 2>&1 || { $(APT_INSTALL) mma >/dev/null; }
	@command -v mma >/dev/null 2>&1 || { echo "mma could not be installed" >&2; exit 1; }

test: $(VENV)/.dev jack fluidsynth tmux ardour mma
	$(BIN)/python -m pytest -q

# the unit tier, every few minutes while working: no apt, no JACK server, no training (tests/conftest.py)
test-fast: $(VENV)/.dev
	$(BIN)/python -m pytest -q -m unit

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
