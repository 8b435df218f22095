# The two commands a newcomer needs:  make run  (the whole platform)  and  make test  (the suite).
.PHONY: run down status test lint bootstrap bench

bootstrap:
	@scripts/bootstrap.sh

run: bootstrap
	.venv/bin/disan up

down:
	.venv/bin/disan down

status:
	.venv/bin/disan status

test: bootstrap
	.venv/bin/disan infra
	.venv/bin/pytest

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy disan shared iiif
	.venv/bin/mypy services
	.venv/bin/lint-imports

bench: bootstrap
	.venv/bin/python bench/events.py
