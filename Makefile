# Internet operations analytics course — every command a learner, instructor or maintainer needs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEED ?= 2025
NB ?=
WORKERS ?= 2
BENCH_ARGS ?=
ROSTER ?= deploy/students.csv
HUB_ARGS ?=
PROXY := build/node_modules/.bin/configurable-http-proxy

.DEFAULT_GOAL := help
.PHONY: install help lab fonts sandbox browser test test-fast data validate-data release course grade progress bench classroom \
	classroom-stop lock clean

help: ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed (looked for '$(PYTHON)'; set PYTHON=...)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev,classroom]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the pinned environment

# `make lab LANG=zh`, `make progress LANG=zh`: the course in Chinese. Only LANG given on make's command line picks
# the course language (LANG from the environment is the system locale); it is not passed on as a locale.
LAB_ARGS ?=
ifeq ($(origin LANG),command line)
COURSE_LANG := $(LANG)
unexport LANG
endif

lab: $(STAMP) fonts ## install if needed, check the default world, open JupyterLab on notebooks/ (LANG=zh: in Chinese)
	$(BIN)/opsbook lab $(if $(COURSE_LANG),--lang $(COURSE_LANG)) $(LAB_ARGS)

fonts: ## install a CJK font (Debian's fonts-noto-cjk) so charts can show Chinese, when missing (apt-get as root)
	@fc-list 2>/dev/null | grep -q "Noto Sans CJK" || ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-noto-cjk; \
	  else echo "No CJK font: Chinese chart labels will show as boxes (sudo apt-get install fonts-noto-cjk)"; fi; }

sandbox: ## install bubblewrap, the sandbox of `opsbook class grade`, when missing (apt-get as root)
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; \
	  else echo "bubblewrap is missing (sudo apt-get install bubblewrap): the class-grading tests will be skipped"; fi; }

browser: ## install Chromium, which the browser tests drive through Playwright, when missing (apt-get as root)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else echo "Chromium is missing (sudo apt-get install chromium): the browser tests will be skipped"; fi; }

# JupyterHub's proxy for `make classroom` and its test, pinned in package-lock.json, installed into build/ (not globally).
$(PROXY): package.json package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; \
	  fi; }
	@if command -v npm >/dev/null; then \
	  mkdir -p build && cp package.json package-lock.json build/ && \
	  npm ci --prefix build --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm is missing (apt-get install npm): make classroom and the hub test need it"; fi

test: $(STAMP) sandbox browser fonts $(PROXY) ## run the whole test suite (creates .venv, installs bubblewrap, Chromium, a CJK font and the hub's proxy when missing)
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup

test-fast: $(STAMP) ## run the tests that do not execute notebooks or build whole worlds
	$(BIN)/python -m pytest -m "not slow"

data: $(STAMP) ## regenerate the default world in datasets/ (byte for byte) and the Chinese edition's checksums
	$(BIN)/opsbook world generate --seed $(SEED) --out datasets --key autograder/answer_key.json
	rm -rf datasets/zh && $(BIN)/opsbook world generate --seed $(SEED) --locale zh_CN --out datasets/zh --key build/zh-answer-key.json --no-progress
	cp datasets/zh/MANIFEST.sha256 datasets/zh.MANIFEST.sha256

validate-data: $(STAMP) ## check datasets/ against its schema and checksums
	$(BIN)/opsbook world validate datasets

release: $(STAMP) ## tidy solutions/ and regenerate notebooks/ from it with nbgrader
	$(BIN)/opsbook course release

course: $(STAMP) ## execute every solution notebook with papermill into build/course (+ HTML, summary)
	$(BIN)/opsbook course run

grade: $(STAMP) ## grade your own notebook: make grade NB=notebooks/01_metrics/01_metrics.ipynb
	@test -n "$(NB)" || { echo "Usage: make grade NB=path/to/your_notebook.ipynb"; exit 2; }
	$(BIN)/opsbook grade "$(NB)"

progress: $(STAMP) ## your progress per notebook: attempted, checks passed, last grade (table + chart; LANG=zh)
	$(BIN)/opsbook progress $(if $(COURSE_LANG),--lang $(COURSE_LANG))

bench: $(STAMP) sandbox ## print benchmark tables (world, grading, class grading: local pool vs a 2-worker Dask cluster)
	$(BIN)/python -m bench $(BENCH_ARGS)

classroom: $(STAMP) sandbox $(PROXY) ## a classroom on this machine (root): JupyterHub, accounts from ROSTER=students.csv, nbgrader exchange
	$(BIN)/opsbook class hub --roster $(ROSTER) $(HUB_ARGS)

classroom-stop: $(STAMP) ## stop the classroom and remove the accounts, exchange and permission changes it made
	$(BIN)/opsbook class hub --stop $(HUB_ARGS)

lock: ## refresh requirements.lock from a clean install of pyproject's pins
	rm -rf /tmp/opsbook-lock && $(PYTHON) -m venv /tmp/opsbook-lock
	/tmp/opsbook-lock/bin/pip install --quiet '.[dev,classroom]'
	( echo '# Every package version of the course environment (pip constraints). Regenerate with `make lock`.'; \
	  /tmp/opsbook-lock/bin/pip freeze | grep -vE '^(opsbook|-e )' ) > requirements.lock

clean: ## remove build artefacts (keeps .venv)
	rm -rf build .pytest_cache
