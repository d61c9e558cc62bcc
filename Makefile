# Two entry points; both create .venv and install roboforge first (pip is skipped when up to date).
# ARGS go to `roboforge train` (quickstart) or to pytest (test): make test ARGS="tests/test_service_store.py -x"
.PHONY: help quickstart test

help:
	@echo "make quickstart  install, then train, evaluate and export a cart-pole policy on the CPU (scripts/quickstart.sh)"
	@echo "make test        install (system packages too, where allowed), then ruff and pytest as CI does (scripts/test.sh)"
	@echo "ARGS=\"...\"       extra arguments for roboforge train (quickstart) or pytest (test)"

quickstart:
	scripts/quickstart.sh $(ARGS)

test:
	scripts/test.sh $(ARGS)
