# Scale, baby, scale! — the targets a newcomer needs.
#   make course   set up, then run the whole course headless (build/report.html)
#   make check    set up, then lint and the fast tests (the inner loop, about 3 minutes)
#   make test     set up, then lint and the whole test suite (notebooks and browser included)
#   make lab      set up, then JupyterLab on notebooks/ with a local AWS running

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: course check test lab setup graphviz nodejs sync diagrams bench clean pin help

help:
	@sed -n '2,6p' Makefile | sed 's/^# *//'

course: setup
	$(BIN)/workshop run --jobs $(JOBS)

check: setup
	$(BIN)/ruff check workshop tests benchmarks
	$(BIN)/python -m pytest -q -m "not slow and not notebooks and not browser"

test: setup
	$(BIN)/ruff check workshop tests benchmarks
	$(BIN)/python -m pytest --durations=15

lab: setup
	$(BIN)/workshop lab

setup: $(STAMP) graphviz nodejs

# The virtual environment, installed from the pinned versions (constraints.txt).
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "Python 3.10 or newer is needed ($(PYTHON) is older): install it, or run make PYTHON=python3.12"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { echo "could not create $(VENV): on Debian/Ubuntu run: sudo apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

# Graphviz's `dot` draws the diagrams: installed from Debian's packages when run as root.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Graphviz (Debian's graphviz package)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "Graphviz's 'dot' is missing. Install it, then run make again:"; \
	    echo "  sudo apt-get install graphviz   |   brew install graphviz   |   conda install -c conda-forge graphviz"; \
	    exit 1; \
	  fi; }

# Node.js runs the local AWS's nodejs Lambda functions: installed like Graphviz. Optional (the
# course's functions are Python), so without root it only says how; nodejs functions are then refused.
nodejs:
	@command -v node >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Node.js (Debian's nodejs package)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; \
	  else \
	    echo "Node.js is missing: the local AWS will refuse nodejs Lambda functions. To run them:"; \
	    echo "  sudo apt-get install nodejs   |   brew install node"; \
	  fi; }

sync: setup            ## regenerate notebooks/ from solutions/
	$(BIN)/workshop sync

diagrams: setup        ## re-render diagrams/ from the stage descriptions
	$(BIN)/workshop diagrams

bench: setup           ## the course and pipeline benchmarks (printed figures)
	$(BIN)/python benchmarks/course.py

pin:                   ## record the exact versions installed in .venv
	{ echo "# Exact versions the kit is tested with (pip install -c constraints.txt -e .[test]). Regenerate: make pin"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^workshop'; } > constraints.txt
	@echo "re-add the python_full_version markers for soupsieve (Debian 12's Python 3.11.2) by hand"

clean:
	rm -rf build .pytest_cache
