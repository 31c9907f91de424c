# The two commands of the README: `make demo` and `make test`. Both do all set-up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test setup lint bench fuzz vm-host clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml scripts/system-deps.sh
	bash scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/civicloud demo

# Configured in pyproject.toml. Measured on 2 cores: ruff 0.06 s; mypy 11 s cold, 0.3 s with its cache
# (.mypy_cache) and about 1 s after a change; lint-imports 0.2 s.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

# The real-VM test needs libvirtd + QEMU and the test guest; as root these scripts set them up (cached),
# otherwise they say what to run and the test skips with that reason (CI, where it must run, fails instead).
vm-host:
	-bash scripts/libvirtd.sh && bash scripts/build-guest-image.sh

# pytest exits 5 when it collected nothing: that is a failure here, not a pass.
# Two workers (pytest-xdist), a test file each at a time: many tests wait on PostgreSQL, sockets and agents.
test: lint vm-host
	$(BIN)/pytest -n 2 --dist loadfile; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

# The deep run of the fuzz tests: schemathesis as each role (make test: 1 example an operation and role) and the
# positive run with valid values (make test: its coverage phase and 1 random example an operation).
FUZZ_EXAMPLES ?= 50
FUZZ_POSITIVE_EXAMPLES ?= 200
fuzz: $(STAMP)
	CIVICLOUD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) CIVICLOUD_FUZZ_POSITIVE_EXAMPLES=$(FUZZ_POSITIVE_EXAMPLES) \
		$(BIN)/pytest -m fuzz -p no:randomly -q -n 2 --dist loadfile

# Speed is measured here, never in tests: each script prints a table and writes bench/results/*.json.
bench: $(STAMP)
	bash scripts/postgres.sh
	$(BIN)/python bench/placement.py --hosts 5000 --requests 20000 --claim-requests 2000
	$(BIN)/python bench/packing.py
	$(BIN)/python bench/provisioning.py --workloads 200
	$(BIN)/python bench/peer_placement.py --hosts 5000 --requests 2000 --peer-requests 200 --peer-db postgres --through-api 4
	$(BIN)/python bench/billing.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/control_loop.py --hosts 500 5000
	$(BIN)/python bench/api_placement.py --hosts 5000 --requests 2000 --clients 1 4
	$(BIN)/python bench/idle_server.py --hosts 5000 --seconds 60
	$(BIN)/python bench/load.py --hosts 5000 --rate 300 --seconds 60
	$(BIN)/python bench/network.py --networks 200 --ports 10

clean:
	rm -rf $(VENV) .pytest_cache .import_linter_cache .mypy_cache .ruff_cache build src/*.egg-info
