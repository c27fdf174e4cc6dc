# The kit's commands. `make lab` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The challenges whose samples, material and starters the kit ships (course/<c>/, solutions/<c>/, ...).
CHALLENGES ?= sirene energy
CHALLENGE ?= sirene
SAMPLE := data_samples/sirene
PORT   ?= 8888
JOBS   ?= 2

.PHONY: help venv lab test sandbox test-fast data sample bench bench-data bench-score bench-grade bench-quality bench-energy bench-scale browser clean material starters hub bench-hub

help:
	@echo "make lab         set up .venv and open the course in JupyterLab"
	@echo "make test        set up .venv and run the whole test suite"
	@echo "make sample      regenerate data_samples/<challenge>/ (the committed samples)"
	@echo "make material    execute every course and solution notebook: out/material/summary.md"
	@echo "make sandbox     (as root, once) bubblewrap and the accounts student notebooks are graded as"
	@echo "make starters    regenerate starter_notebooks/<challenge>/ from solutions/<challenge>/ (nbgrader generate_assignment)"
	@echo "make bench       run every benchmark and write benchmarks/report.md"
	@echo "make bench-data  generate every scale up to the campaign and time it"
	@echo "make bench-grade autograde 60 submissions: nbgrader autograde vs datathon grade --jobs 2"
	@echo "make bench-quality score every approach on worlds of unseen seeds (the README's quality table)"
	@echo "make bench-scale   datathon match from one département to the campaign, Splink beside it"
	@echo "make hub         (as root) set up and start the event's JupyterHub: docs/hub.md"
	@echo "make bench-hub   (as root) 60 accounts, 60 servers spawned at once: time to ready, memory per user"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# The committed samples must be there; regenerate them only when missing. Each challenge's smallest
# scale and published seed (`datathon generate --sample`), then its data dictionary.
$(SAMPLE)/manifest.json: | $(STAMP)
	$(MAKE) sample

sample: $(STAMP)
	@for c in $(CHALLENGES); do \
		$(BIN)/datathon generate --challenge $$c --sample --force --quiet && \
		$(BIN)/datathon data dictionary data_samples/$$c || exit 1; done

# The command line lives in datathon/lab.py, shared with tests/test_lab.py.
# CHALLENGE=energy serves that challenge's course to the formgrader (nbgrader_config.py reads it).
lab: $(STAMP) $(SAMPLE)/manifest.json
	DATATHON_CHALLENGE=$(CHALLENGE) $(BIN)/python -m datathon.lab --port $(PORT) --root $(CURDIR)

# Debian's Chromium drives the browser tests (a test tool's own browser download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }
	@command -v chromium >/dev/null 2>&1 || { echo "chromium is still missing"; exit 1; }

# The sandbox `datathon grade` runs student notebooks in (datathon/sandbox.py): Debian's bubblewrap and the
# unprivileged accounts datathon-sandbox1..4. As root it installs and creates them; otherwise it says what
# to run (the sandbox tests then skip, and `datathon grade` refuses untrusted notebooks).
sandbox: $(STAMP)
	@if [ "$$(id -u)" = 0 ]; then \
		command -v bwrap >/dev/null 2>&1 || { echo "installing Debian's bubblewrap for the grading sandbox"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; }; \
		$(BIN)/datathon sandbox setup; \
	else echo "the grading sandbox needs root once: sudo make sandbox (its tests skip until then)"; fi

# Notebook directories that exist (git keeps no empty solutions/); nbval runs each notebook as a
# test, in a kernel of .venv's own Python (--nbval-current-env), one notebook per worker
# (--dist loadfile: a notebook's cells share one kernel). Exit 5 is "no notebook collected".
NOTEBOOK_DIRS = $(wildcard course solutions)

test: $(STAMP) $(SAMPLE)/manifest.json browser sandbox
	$(BIN)/python -m pytest -n $(JOBS) -q
	$(if $(NOTEBOOK_DIRS),$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -q --nbval-lax --nbval-current-env $(NOTEBOOK_DIRS) || [ $$? -eq 5 ])

# Execute every notebook of course/<c>/ and solutions/<c>/ on the challenge's sample: out/material/<c>/ (HTML, summary.md).
material: $(STAMP) $(SAMPLE)/manifest.json
	@for c in $(CHALLENGES); do $(BIN)/datathon material run --challenge $$c --out out/material/$$c --jobs $(JOBS) || exit 1; done

# What students get: nbgrader generate_assignment on each solutions/<c>/<assignment>/ with grader/<c>/'s
# configuration, into a temporary directory (the course's release/ and gradebook are left alone), then
# normalised into starter_notebooks/<c>/ and scanned for leaks (datathon/starters.py). Never edit
# starter_notebooks/ by hand: tests/test_starters.py fails when it differs from what this writes.
starters: $(STAMP)
	$(BIN)/python -m datathon.starters $(foreach c,$(CHALLENGES),--challenge $(c))

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) -q -m "not slow and not browser"

bench-data: $(STAMP)
	$(BIN)/python -m benchmarks.bench_data

bench-score: $(STAMP)
	$(BIN)/python -m benchmarks.bench_score

# 60 submissions of a1_names, sequential `nbgrader autograde` vs `datathon grade --jobs 2` (~20 min on 2 cores).
bench-grade: $(STAMP) $(SAMPLE)/manifest.json
	$(BIN)/python -m benchmarks.bench_grade

# The approaches on worlds of seeds no notebook or test uses: benchmarks/results/quality.json (~10 min).
bench-quality: $(STAMP)
	$(BIN)/python -m benchmarks.bench_quality

# The energy forecasts over 20 rolling origins on two unseen full-scale worlds: benchmarks/results/energy.json.
bench-energy: $(STAMP)
	$(BIN)/python -m benchmarks.energy.bench_forecast

# datathon match from one département to the campaign, and Splink (the `bench` extra) beside it (44 min on 2 cores when bench-data has left the campaign in benchmarks/work; 12 min more to generate it).
bench-scale: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks.bench_scale

# The event's JupyterHub (docs/hub.md), as root: set up (idempotent) from PARTICIPANTS, DATA and INSTRUCTORS
# (EVENT, HUB_ROOT optional), then run it in the foreground on HUB_PORT.
HUB_ROOT ?= /srv/datathon
HUB_PORT ?= 8000
hub: $(STAMP)
	@test -n "$(PARTICIPANTS)" -a -n "$(DATA)" -a -n "$(INSTRUCTORS)" || { \
		echo "usage: sudo make hub PARTICIPANTS=participants.csv DATA=event-data INSTRUCTORS=login[,login] [EVENT=event-dir]"; exit 2; }
	$(BIN)/datathon hub --root $(HUB_ROOT) setup --participants $(PARTICIPANTS) --data $(DATA) \
		--instructors $(INSTRUCTORS) --port $(HUB_PORT) $(if $(EVENT),--event $(EVENT))
	$(BIN)/datathon hub --root $(HUB_ROOT) start

# 60 accounts and 60 servers spawned at once through the hub's API (as root): benchmarks/results/hub.json.
bench-hub: $(STAMP)
	$(BIN)/python -m benchmarks.bench_hub

bench: bench-data bench-score bench-grade bench-quality bench-scale
	$(BIN)/python -m benchmarks.report > /dev/null
	@echo "wrote benchmarks/report.md"

clean:
	rm -rf $(VENV) out benchmarks/work
