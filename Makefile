# Relais: `make run` to chat, `make test` to check everything. `make help` lists the rest.
# Two environments (see README): .venv/engine (Python 3.10, Rasa 3.6) and .venv/app (python3).
SHELL := /bin/bash
ENGINE := .venv/engine/bin
APP := .venv/app/bin
MODEL := models/relais.tar.gz
# What the trained model depends on: Rasa's inputs, and the distress classifier's data and code
# (trained by our component; Rasa cannot see those, hence --force below).
TRAINING_INPUTS := config.yml domain.yml $(shell find nlu_data -name '*.yml' 2>/dev/null) \
	bot/safety/data/distress_train.yml bot/safety/classifier.py bot/safety/normalise.py \
	bot/safety/sms.yml bot/safety/lexicon.yml
CASES ?= ../shared/eval/sample.yml
SOAK ?=
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help setup train run shell test test-app test-engine test-scale evaluate bench audit lint format lock clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup:  ## Create or refresh both environments from the lock files (idempotent)
	@scripts/setup-envs.sh

$(MODEL): $(TRAINING_INPUTS) requirements/engine.lock | setup
	@mkdir -p var/logs models
	@echo ">> training the model (log: var/logs/train.log)" >&2
	@start=$$(date +%s); \
	$(ENGINE)/rasa train --force --domain domain.yml --data nlu_data --config config.yml \
	  --out models --fixed-model-name relais > var/logs/train.log 2>&1 \
	  || { tail -30 var/logs/train.log >&2; exit 1; }; \
	echo $$(( $$(date +%s) - start )) > var/train_seconds; \
	echo ">> trained in $$(cat var/train_seconds) s" >&2

train: setup $(MODEL)  ## Train the model if training data, domain or config changed

run: setup $(MODEL)  ## Start action server, Rasa and gateway on loopback; print the chat URL
	@$(APP)/python -m bot.launch

shell: setup $(MODEL)  ## Chat with the bot in the terminal
	@$(APP)/python -m bot.launch shell

test: setup $(MODEL) lint test-engine test-app  ## Set up if needed and run every test

test-engine:  ## Tests that need Rasa: components, data validation, test stories, evaluation
	@$(ENGINE)/python -m pytest -q --confcutdir=tests/engine tests/engine

test-app:  ## Gateway, end-to-end (real services on loopback) and browser tests
	@$(APP)/python -m pytest -q tests --ignore=tests/engine

test-scale: setup $(MODEL)  ## Two replicas on real PostgreSQL and Redis, and the replay test
	@$(APP)/python -m pytest -q tests/scale tests/reliability

audit: setup  ## Known vulnerabilities in both lock files (docs/security.md); the engine's are reported
	@$(APP)/pip-audit --no-deps --disable-pip --progress-spinner off -r requirements/app.lock
	-@$(APP)/pip-audit --no-deps --disable-pip --progress-spinner off -r requirements/engine.lock

evaluate: setup $(MODEL)  ## Score CASES=file.yml (FORMAT.md) with the trained model; JSON on stdout
	@$(ENGINE)/python -m bot.evaluate $(CASES) --json

bench: setup $(MODEL)  ## Speed and memory figures (var/bench.json); SOAK=1 adds a 20 000-message soak
	-@SOAK=$(SOAK) $(APP)/python -m bot.bench

lint:  ## ruff check and format check
	@$(APP)/ruff check . && $(APP)/ruff format --check .

format:  ## Apply ruff's fixes and formatting
	@$(APP)/ruff check --fix . && $(APP)/ruff format .

lock:  ## Regenerate both lock files from requirements/*.in
	$(APP)/uv pip compile -q requirements/engine.in --python-version 3.10 -o requirements/engine.lock
	$(APP)/uv pip compile -q requirements/app.in --python-version 3.11 -o requirements/app.lock

clean:  ## Remove models, results and runtime data (keeps the environments)
	rm -rf models results var .pytest_cache
