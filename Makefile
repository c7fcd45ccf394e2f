# xend: the two quick-start commands are `make run` and `make test`.
# Both set up what they need: Debian packages when run as root, a virtualenv in
# .venv with the Python dependencies, then run the daemon or the whole suite.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PREFIX ?= /usr/local
DESTDIR ?=
# Debian packages the daemon and the real-VM tests use, and the PostgreSQL server the
# store's tests start (installed only as root).
DEBS   := python3-venv qemu-system-x86 qemu-utils iproute2 debootstrap cpio xorriso e2fsprogs \
          nodejs npm chromium postgresql

RUN_ARGS ?=

.PHONY: run test test-fast lint install clean bench debs ui

$(VENV)/.stamp: setup.py
	@$(MAKE) --no-print-directory debs
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel
	$(PY) -m pip install --quiet -e '.[test,postgres]'
	touch $@

# Install missing Debian packages when we are root; otherwise say what is missing. A
# package another installed one provides counts as there (NodeSource's nodejs provides npm).
debs:
	@missing=""; provided="$$(dpkg-query -W -f='$${db:Status-Status} $${Provides}\n' 2>/dev/null \
	  | sed -n 's/^installed //p' | tr ',\n' '  ')"; \
	for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo " $$provided " | grep -q " $$p " \
	  || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y --no-install-recommends $$missing >/dev/null)); \
	  else echo "not root: cannot install$$missing (tests needing them will skip)"; fi; \
	fi

# The web console (docs/ui.md): ui/ built into the package's webui/static/. npm ci runs
# when the lockfile is newer than what it last installed (npm writes
# node_modules/.package-lock.json); the build when a source is newer than the built
# index.html (written last, touched so that make sees it), so a second make does nothing.
WEBUI := xen/xend/webui/static
UI_SOURCES := ui/build.mjs ui/package.json $(shell find ui/src ui/static -type f 2>/dev/null)

ui: $(WEBUI)/index.html

ui/node_modules/.package-lock.json: ui/package-lock.json
	@$(MAKE) --no-print-directory debs
	cd ui && npm ci --no-audit --no-fund
	touch $@

$(WEBUI)/index.html: ui/node_modules/.package-lock.json $(UI_SOURCES)
	cd ui && node build.mjs
	touch $@

run: $(VENV)/.stamp ui
	$(VENV)/bin/xend start --foreground $(RUN_ARGS)

# Fast tiers first, the ones that boot real guests last.
TEST_TIERS := tests/unit tests/integration tests/browser tests/tasks tests/xm tests/daemon \
              tests/security tests/metrics tests/backend tests/qemu tests/xen tests/pool

# The tests that boot no guest run on every core, each file's tests in order on one
# worker (pytest-xdist, --dist loadfile); the guests' tiers and the pool tier (one pool
# of hosts per machine: its bridge and namespaces have fixed names) one test at a time.
# Two workers a core: most of those tests' time is spent waiting on the daemon (timeouts
# under test, simulated operations of a set length, a browser), not on a CPU, so one
# worker a core leaves the cores half idle.
WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))
PARALLEL := -n $(WORKERS) --dist loadfile

test: lint ui
	$(PY) -m pytest -q $(PARALLEL) -m "not qemu and not pool" $(TEST_TIERS)
	$(PY) -m pytest -q -m "qemu or pool" $(TEST_TIERS)

test-fast: lint ui
	$(PY) -m pytest -q $(PARALLEL) -m "not qemu and not pool" $(TEST_TIERS)

# ruff.toml holds the rules: pycodestyle, pyflakes and import order, lines of 100.
lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check xen tests bench setup.py tools/pool-up

bench: $(VENV)/.stamp ui
	for b in bench/*.py; do $(PY) $$b || exit 1; done

# What a distro package holds: the Python package with the xend and xm scripts (no
# dependencies: the distro provides them), the systemd unit, the example config (never
# over /etc/xen/xend.toml itself), the man pages and xm's bash completion.
# DEB_PYTHON_INSTALL_LAYOUT=deb_system makes Debian's own Python honour PREFIX
# (PREFIX/bin, PREFIX/lib/python3/dist-packages) instead of adding /usr/local; other
# Pythons ignore it. The build is offline when PYTHON has the wheel package (as a distro
# build does); otherwise pip fetches setuptools and wheel into an isolated build.
# --ignore-installed: a PYTHON that already has xend (the dev venv) keeps its own copy;
# without it pip would uninstall that copy before writing the one under DESTDIR.
install: ui
	isolation=--no-build-isolation; $(PYTHON) -c 'import wheel' 2>/dev/null || isolation=; \
	DEB_PYTHON_INSTALL_LAYOUT=deb_system $(PYTHON) -m pip install --quiet --no-deps \
	  --ignore-installed $$isolation --no-warn-script-location --root="$(if $(DESTDIR),$(DESTDIR),/)" \
	  --prefix="$(PREFIX)" .
	install -D -m 0644 tools/examples/xend.toml "$(DESTDIR)/etc/xen/xend.toml.example"
	install -d -m 0755 "$(DESTDIR)$(PREFIX)/lib/systemd/system"
	sed 's|^ExecStart=/usr/bin/xend |ExecStart=$(PREFIX)/bin/xend |' tools/xend.service \
	  > "$(DESTDIR)$(PREFIX)/lib/systemd/system/xend.service"
	chmod 0644 "$(DESTDIR)$(PREFIX)/lib/systemd/system/xend.service"
	install -d -m 0755 "$(DESTDIR)$(PREFIX)/share/man/man8" "$(DESTDIR)$(PREFIX)/share/man/man1"
	gzip -9n < tools/man/xend.8 > "$(DESTDIR)$(PREFIX)/share/man/man8/xend.8.gz"
	gzip -9n < tools/man/xm.1 > "$(DESTDIR)$(PREFIX)/share/man/man1/xm.1.gz"
	chmod 0644 "$(DESTDIR)$(PREFIX)/share/man/man8/xend.8.gz" "$(DESTDIR)$(PREFIX)/share/man/man1/xm.1.gz"
	install -D -m 0644 tools/completion/xm.bash \
	  "$(DESTDIR)$(PREFIX)/share/bash-completion/completions/xm"
	@# pip records the build tree it installed from: no part of a package.
	find "$(if $(DESTDIR),$(DESTDIR),/)$(PREFIX)" -path '*/xend-*.dist-info/direct_url.json' -delete
	@echo "installed; to run xend at boot: systemctl daemon-reload && systemctl enable --now xend"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache $(WEBUI) ui/node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
