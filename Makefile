# lconv: `make demo` installs and runs the default experiment; `make test` installs and runs the tests.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LCONV := $(BIN)/lconv
SEEDS ?= 0,1,2
QUICK ?=
SCALE := $(if $(QUICK),quick,paper)
OVERRIDES ?=
# pip on machines with a local package mirror prints one warning per package; keep the output readable.
PIP_QUIET := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: help install demo test test-full lint format docs docs-serve fig-so2 fig-translation fig-sct table-images table-rotmnist table-qm9 fig-springs bench-images bench-lieconv bench-lieconv-parity bench-algebra bench-samples bench-mnist-generator fig-sample-efficiency discover reproduce clean clean-results

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create .venv with the pinned requirements and lconv (editable)

$(VENV)/.installed: requirements.txt setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt 2>&1 | $(PIP_QUIET)
	$(BIN)/pip install -q -e '.[test,joblib,slurm]' 2>&1 | $(PIP_QUIET)
	touch $@

demo: install ## install, then run the default experiment (so2_discovery)
	$(LCONV) run experiment=so2_discovery $(OVERRIDES)

test: install lint docs ## install, lint, build the docs (warnings are errors), then run the fast test suite (< 10 min on 2 cores)
	$(BIN)/python -m pytest -q -m "not slow" --durations=15

test-full: install lint docs ## lint, the docs build, the fast suite and the slow tests
	$(BIN)/python -m pytest -q

# ruff (settings in pyproject.toml): the linter and the formatter's check; `make format` rewrites.
lint: install ## ruff: lint and check the formatting (no changes)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## ruff: fix what the linter can and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The documentation site (mkdocs.yml, docs/): MkDocs + Material, API pages from the docstrings.
# --strict turns every warning (broken link, missing page, docstring the handler cannot read) into an error.
# No --quiet: it hides the warnings from --strict too, and the build passes with them.
# NO_MKDOCS_2_WARNING silences mkdocs-material's end-of-life banner (not a build warning).
docs: install ## build the documentation site into site/ (warnings are errors)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

docs-serve: install ## serve the documentation at http://127.0.0.1:8000, rebuilding on every change
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict

# --- paper figures ------------------------------------------------------------------------
# Results go to fixed directories under results/; a .done stamp marks a finished run
# (Hydra writes its files before the job, so their presence proves nothing). lconv refuses to start
# a run in a directory that already holds one: resume it, or delete it to rerun the target.

results/so2_discovery-$(SCALE)/.done:
	$(LCONV) run experiment=so2_discovery scale=$(SCALE) logger=none paths.output_dir=results/so2_discovery-$(SCALE) $(OVERRIDES)
	touch $@

figures/so2_generator-$(SCALE).pdf: results/so2_discovery-$(SCALE)/.done
	mkdir -p figures
	cp results/so2_discovery-$(SCALE)/figures/so2_generator.pdf $@
	cp results/so2_discovery-$(SCALE)/figures/so2_generator.png $(@:.pdf=.png)
	cp results/so2_discovery-$(SCALE)/metrics.json figures/so2_generator-$(SCALE).metrics.json

# Figure 4 of the L-conv paper: its three solutions on its own data and conventions (bilinear
# rotation, official L_SW grid): the recursive angle regressor, the fixed-angle step at π/10 and
# least squares at π/10, (T − I)/θ (the paper's "LinReg"), next to L_SW and the data's own generator G_cd.
FIG4_MODELS := recursive_angle fixed_angle lstsq
FIG4_ARGS_lstsq := 'data.theta_range_deg=[18,18]' model.solution=first_order

results/so2_fig4-%-$(SCALE)/.done:
	$(LCONV) run experiment=so2_discovery model=$* conventions=paper scale=$(SCALE) logger=none paths.output_dir=results/so2_fig4-$*-$(SCALE) $(FIG4_ARGS_$*) $(OVERRIDES)
	touch $@

figures/so2_figure4-$(SCALE).pdf: $(foreach m,$(FIG4_MODELS),results/so2_fig4-$(m)-$(SCALE)/.done)
	$(BIN)/python -m lconv_cli.reporting.paper_figures so2 $(foreach m,$(FIG4_MODELS),--run $(m)=results/so2_fig4-$(m)-$(SCALE)) --out $(@:.pdf=)

fig-so2: install figures/so2_generator-$(SCALE).pdf figures/so2_figure4-$(SCALE).pdf ## L-conv Fig. 4 (recursive, fixed-angle, least squares vs L_SW, G_cd) and our learned generator (QUICK=1: CPU scale)

results/translation_1d-$(SCALE)/.done:
	$(LCONV) run experiment=translation_1d scale=$(SCALE) logger=none paths.output_dir=results/translation_1d-$(SCALE) $(OVERRIDES)
	touch $@

figures/translation_shifts-$(SCALE).pdf: results/translation_1d-$(SCALE)/.done
	mkdir -p figures
	cp results/translation_1d-$(SCALE)/figures/translation_shifts.pdf $@
	cp results/translation_1d-$(SCALE)/figures/translation_shifts.png $(@:.pdf=.png)
	cp results/translation_1d-$(SCALE)/metrics.json figures/translation_shifts-$(SCALE).metrics.json

fig-translation: install figures/translation_shifts-$(SCALE).pdf ## L-conv Fig. 6: 1D shifts from the learned generator (QUICK=1: CPU scale)

comma := ,
# L-conv SI D / slides Fig. 9: test accuracy of L-conv, CNN and FC at matched parameter counts on
# plain, rotated and rotated+scrambled images, over SEEDS. QUICK=1: MNIST and FashionMNIST at CPU
# scale (10 epochs); the full table adds CIFAR10/100 (30 epochs; needs the data and, in practice, a GPU).
IMAGE_DATASETS ?= $(if $(QUICK),mnist$(comma)fashion_mnist,mnist$(comma)fashion_mnist$(comma)cifar10$(comma)cifar100)
IMAGE_VARIANTS ?= plain,rotated,rotated_scrambled
IMAGE_MODELS ?= lconv,cnn,fc
IMAGE_ARGS ?=

results/images-$(SCALE)/.done:
	$(LCONV) run -m experiment=image_classification dataset=$(IMAGE_DATASETS) variant=$(IMAGE_VARIANTS) model=$(IMAGE_MODELS) seed=$(SEEDS) scale=$(SCALE) logger=none hydra.sweep.dir=results/images-$(SCALE) $(IMAGE_ARGS) $(OVERRIDES)
	touch $@

figures/images_table-$(SCALE).md: results/images-$(SCALE)/.done
	$(BIN)/python -m lconv_cli.reporting.paper_figures images --runs results/images-$(SCALE) --out figures/images_table-$(SCALE)

table-images: install figures/images_table-$(SCALE).md ## L-conv Fig. 9: image classification table + bar chart, 3 seeds (QUICK=1: MNIST, FashionMNIST on CPU)

# Discover, then use (docs/experiments/discover_then_use.md): per dataset, image_generators finds tx, ty,
# rotation and scale from the dataset's own training images in the scrambled pixel order of data seed 0;
# then image_classification on rotated+scrambled images at several training-set sizes, over seeds:
# L-conv on those generators (lconv_discovered), on the true ones (lconv_oracle), with learned dense
# generators, the paper's lconv, CNN and FC. data.train_subset keeps N training images, 10 % of them for
# validation: 1111, 5556, 22222, 60000 train on 1,000, 5,000, 20,000, 54,000. Small sets train ≥ min_steps.
# QUICK=1: 1,000 and 5,000 images, 10 epochs (at least 300 steps), 20,000 discovery pairs (20 min on 2 CPU cores).
EFFICIENCY_DATASETS ?= mnist fashion_mnist
EFFICIENCY_SIZES ?= $(if $(QUICK),1111$(comma)5556,1111$(comma)5556$(comma)22222$(comma)60000)
EFFICIENCY_MODELS ?= lconv_discovered,lconv_oracle,lconv_dense,lconv,cnn,fc
EFFICIENCY_SEEDS ?= $(SEEDS)
EFFICIENCY_MIN_STEPS ?= $(if $(QUICK),300,2000)
EFFICIENCY_ARGS ?=
DISCOVERY_ARGS ?=

results/discover-%-$(SCALE)/.done:
	$(LCONV) run experiment=image_generators dataset=$* 'data.transforms=[tx,ty,rotation,scale]' data.scrambled=true scale=$(SCALE) logger=none paths.output_dir=results/discover-$*-$(SCALE) $(DISCOVERY_ARGS) $(OVERRIDES)
	touch $@

results/efficiency-%-$(SCALE)/.done: results/discover-%-$(SCALE)/.done
	$(LCONV) run -m experiment=image_classification dataset=$* variant=rotated_scrambled model=$(EFFICIENCY_MODELS) data.train_subset=$(EFFICIENCY_SIZES) seed=$(EFFICIENCY_SEEDS) generators=$(abspath results/discover-$*-$(SCALE)) trainer.min_steps=$(EFFICIENCY_MIN_STEPS) scale=$(SCALE) logger=none hydra.sweep.dir=results/efficiency-$*-$(SCALE) $(EFFICIENCY_ARGS) $(OVERRIDES)
	touch $@

figures/sample_efficiency-$(SCALE).md: $(foreach d,$(EFFICIENCY_DATASETS),results/discover-$(d)-$(SCALE)/.done results/efficiency-$(d)-$(SCALE)/.done)
	$(BIN)/python -m lconv_cli.reporting.paper_figures efficiency $(foreach d,$(EFFICIENCY_DATASETS),--runs results/efficiency-$(d)-$(SCALE)) --out figures/sample_efficiency-$(SCALE)

fig-sample-efficiency: install figures/sample_efficiency-$(SCALE).md ## discover generators of scrambled images, then L-conv on them: accuracy vs. training size, 3 seeds (QUICK=1: 20 min CPU)

# Neural symmetry detection paper, Figures 2–3: learned fields, latent flows and t histograms for
# rotation, scaling, translation and SCT_x on MNIST (same_image pairs, uniform t).
LATENT_TRANSFORMS ?= rotation scale tx sct_x
LATENT_ARGS ?=

results/latent-%-$(SCALE)/.done:
	$(LCONV) run experiment=latent_symmetry transform=$* scale=$(SCALE) logger=none paths.output_dir=results/latent-$*-$(SCALE) $(LATENT_ARGS) $(OVERRIDES)
	touch $@

figures/latent_flows-$(SCALE).pdf: $(foreach t,$(LATENT_TRANSFORMS),results/latent-$(t)-$(SCALE)/.done)
	$(BIN)/python -m lconv_cli.reporting.paper_figures latent $(foreach t,$(LATENT_TRANSFORMS),--run $(t)=results/latent-$(t)-$(SCALE)) --out $(@:.pdf=)

fig-sct: install figures/latent_flows-$(SCALE).pdf ## Symmetry-detection Figs. 2-3: rotation, scaling, translation, SCT on MNIST (QUICK=1: CPU scale)

bench-images: install ## training-step throughput (samples/s) of each image model
	$(BIN)/python benchmarks/image_throughput.py $(OVERRIDES)

# LieConv Table 1 (rotated MNIST test error by group) and Table 2 (QM9 MAE). The paper scale is
# 500 epochs per run (GPU days); QUICK=1 runs the quick scale: RotMNIST with T2 and SE2, QM9 HOMO with T(3).
ROTMNIST_GROUPS ?= $(if $(QUICK),T2$(comma)SE2,Trivial$(comma)T2$(comma)SO2$(comma)RxSO2$(comma)SE2)
ROTMNIST_ARGS ?=
QM9_TARGETS ?= $(if $(QUICK),homo,alpha$(comma)gap$(comma)homo$(comma)lumo$(comma)mu$(comma)Cv$(comma)G$(comma)H$(comma)r2$(comma)U$(comma)U0$(comma)zpve)
QM9_GROUPS ?= T3
QM9_ARGS ?=

results/rotmnist-$(SCALE)/.done:
	$(LCONV) run -m experiment=lieconv_rotmnist group=$(ROTMNIST_GROUPS) scale=$(SCALE) logger=none hydra.sweep.dir=results/rotmnist-$(SCALE) $(ROTMNIST_ARGS) $(OVERRIDES)
	touch $@

results/qm9-$(SCALE)/.done:
	$(LCONV) run -m experiment=lieconv_qm9 group=$(QM9_GROUPS) data.target=$(QM9_TARGETS) scale=$(SCALE) logger=none hydra.sweep.dir=results/qm9-$(SCALE) $(QM9_ARGS) $(OVERRIDES)
	touch $@

figures/lieconv_%_table-$(SCALE).md: results/%-$(SCALE)/.done
	$(BIN)/python -m lconv_cli.reporting.paper_figures lieconv --runs results/$*-$(SCALE) --out $(@:.md=)

table-rotmnist: install figures/lieconv_rotmnist_table-$(SCALE).md ## LieConv Table 1: rotated-MNIST test error per group (QUICK=1: CPU scale)
table-qm9: install figures/lieconv_qm9_table-$(SCALE).md ## LieConv Table 2: QM9 MAE per target, T(3) (QUICK=1: HOMO at CPU scale)

# LieConv Figs. 6-8 (spring dynamics): each model at SCALE, then test rollout MSE against the number
# of training systems (a sweep at a fixed number of optimisation steps, over SEEDS). The figures,
# a metrics table (figures/springs-SCALE.md) and the data-scaling summary land in figures/.
SPRINGS_MODELS ?= T2 SO2 Trivial fc hfc ogn hogn
SPRINGS_ARGS ?=
SPRINGS_SIZES ?= $(if $(QUICK),100$(comma)300$(comma)1000,300$(comma)1000$(comma)3000$(comma)10000)
SPRINGS_SIZE_MODELS ?= hlieresnet,hfc,fc
SPRINGS_SIZE_ARGS ?= $(if $(QUICK),trainer.max_steps=200 trainer.batch_size=50 trainer.log_every=20,trainer.max_steps=5000 trainer.log_every=250)
springs_args_T2 := group=T2
springs_args_SO2 := group=SO2
springs_args_Trivial := group=Trivial
springs_args_fc := model=fc
springs_args_hfc := model=hfc
springs_args_ogn := model=ogn
springs_args_hogn := model=hogn
springs_label = $(if $(filter T2 SO2 Trivial,$(1)),HLieResNet($(1)),$(shell echo $(1) | tr a-z A-Z))

results/springs-%-$(SCALE)/.done:
	$(LCONV) run experiment=lieconv_springs $(springs_args_$*) scale=$(SCALE) logger=none paths.output_dir=results/springs-$*-$(SCALE) $(SPRINGS_ARGS) $(OVERRIDES)
	touch $@

results/springs_sizes-$(SCALE)/.done:
	$(LCONV) run -m experiment=lieconv_springs group=T2 model=$(SPRINGS_SIZE_MODELS) data.num_train=$(SPRINGS_SIZES) seed=$(SEEDS) scale=$(SCALE) logger=none hydra.sweep.dir=results/springs_sizes-$(SCALE) $(SPRINGS_SIZE_ARGS) $(OVERRIDES)
	touch $@

figures/springs-$(SCALE).md: $(foreach m,$(SPRINGS_MODELS),results/springs-$(m)-$(SCALE)/.done) results/springs_sizes-$(SCALE)/.done
	$(BIN)/python -m lconv_cli.reporting.paper_figures springs $(foreach m,$(SPRINGS_MODELS),--run '$(call springs_label,$(m))=results/springs-$(m)-$(SCALE)') --sizes results/springs_sizes-$(SCALE) --out figures/springs-$(SCALE)

fig-springs: install figures/springs-$(SCALE).md ## LieConv Figs. 6-8: spring trajectories, momentum conservation, errors, data scaling (QUICK=1: CPU scale)

# LIECONV_SRC / OIL_SRC: unmodified checkouts of mfinzi/LieConv and mfinzi/olive-oil-ml; with them the
# official models are measured in the same run (interleaved processes); without, their columns say "not measured".
LIECONV_SRC ?=
OIL_SRC ?=
bench-lieconv: install ## LieConv train-step throughput and peak memory at the official configs, side by side with the official code given LIECONV_SRC/OIL_SRC (and memory against N)
	$(BIN)/python benchmarks/lieconv_throughput.py --repeats 3 $(if $(LIECONV_SRC),--official-src $(LIECONV_SRC) $(if $(OIL_SRC),--oil-src $(OIL_SRC)))
	$(BIN)/python benchmarks/lieconv_throughput.py --scaling

PARITY_CASES ?= rotmnist-T2 rotmnist-SE2 qm9-T3
bench-lieconv-parity: install ## LieConv parity with the official code at equal budget (LIECONV_SRC and OIL_SRC required; PARITY_CASES, ~1 h each on 2 cores): results/parity/<case>/
	@test -n "$(LIECONV_SRC)" -a -n "$(OIL_SRC)" || { echo "make bench-lieconv-parity needs LIECONV_SRC=<mfinzi/LieConv checkout> OIL_SRC=<mfinzi/olive-oil-ml checkout>"; exit 2; }
	for case in $(PARITY_CASES); do $(BIN)/python benchmarks/lieconv_parity.py --case $$case --official-src $(LIECONV_SRC) --oil-src $(OIL_SRC) --out results/parity/$$case; done

bench-algebra: install ## oracle algebra discovery wall time: so(3), so(1,3), so(10) (45 generators), 3 seeds each
	$(BIN)/python benchmarks/algebra_speed.py --seeds 0,1,2

bench-samples: install ## symmetry from unlabelled samples: density method vs. LieGAN on sphere, Lorentz shell, bent Gaussian, 3 seeds
	$(BIN)/python benchmarks/samples_table.py --seeds 0,1,2

bench-mnist-generator: install ## generators of real MNIST transformations in pixel space (rotation; tx, ty, rotation, scale), SW and resampled, scrambled too
	$(BIN)/python benchmarks/image_generators_table.py

# DATA: your labelled points (.npz with x and y, .npy, .csv with y in the last column, .pt); DISCOVER_ARGS: more overrides
DATA ?= tests/data/lorentz_points.csv
DISCOVER_ARGS ?=
discover: install ## the symmetry of your own data: fit y(x), find and name the algebra that keeps it (DATA=points.npz; default: the shipped example)
	$(BIN)/lconv run experiment=algebra_discovery data=file data.path=$(abspath $(DATA)) $(DISCOVER_ARGS)

reproduce: fig-so2 fig-translation table-images fig-sample-efficiency fig-sct table-rotmnist table-qm9 fig-springs ## every paper figure and table available so far (QUICK=1 for CPU scale)

clean-results: ## remove results/ and figures/
	rm -rf results figures

clean: clean-results ## remove the venv, run records and caches
	rm -rf $(VENV) outputs multirun wandb .pytest_cache build dist site *.egg-info
