# xend: the two quick-start commands are `make run` and `make test`.
# Both set up what they need: Debian packages when run as root, a virtualenv in
# .venv with the Python dependencies, then run the daemon or the whole suite.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PREFIX ?= /usr/local
DESTDIR ?=
# Debian packages the daemon and the real-VM tests use (installed only as root).
DEBS   := python3-venv qemu-system-x86 qemu-utils

RUN_ARGS ?=

.PHONY: run test test-fast install clean bench debs

$(VENV)/.stamp: setup.py
	@$(MAKE) --no-print-directory debs
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Install missing Debian packages when we are root; otherwise say what is missing.
debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y --no-install-recommends $$missing >/dev/null)); \
	  else echo "not root: cannot install$$missing (tests needing them will skip)"; fi; \
	fi

run: $(VENV)/.stamp
	$(VENV)/bin/xend start --foreground $(RUN_ARGS)

test: $(VENV)/.stamp
	$(PY) -m pytest -q tests

test-fast: $(VENV)/.stamp
	$(PY) -m pytest -q -m "not qemu" tests

bench: $(VENV)/.stamp
	for b in bench/*.py; do $(PY) $$b || exit 1; done

install:
	$(PYTHON) -m pip install --no-deps --no-build-isolation --root="$(if $(DESTDIR),$(DESTDIR),/)" --prefix="$(PREFIX)" .
	install -D -m 0644 tools/examples/xend.toml "$(DESTDIR)/etc/xen/xend.toml.example"
	install -D -m 0644 tools/xend.service "$(DESTDIR)$(PREFIX)/lib/systemd/system/xend.service"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
