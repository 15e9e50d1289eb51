SHELL := /bin/bash
NODE := node_modules/.bin/node

.PHONY: install test check run psql clean bench soak browser schema

node_modules/.installed: package.json package-lock.json $(wildcard patches/*.patch)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: node_modules/.installed

test: install browser
	npm test --silent -- $(ARGS)

# Chromium for test/browser (Debian's package), installed only when missing; apt-get needs root
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make browser: /usr/bin/chromium is missing; as root: apt-get install -y chromium" >&2; exit 1; fi; \
	  echo "# installing chromium for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	fi

check: install
	npm run --silent check

# sql/schema.sql: the schema a fresh migration leaves (make test fails while it is stale)
schema: install
	$(NODE) src/cli/schema.ts

run: install
	$(NODE) src/cli/run.ts

bench: install
	$(NODE) bench/run.ts

# a long bid storm with faults, checked against the database; writes docs/reliability.md
soak: install
	$(NODE) test/storm/soak.ts

psql:
	@$(NODE) src/cli/psql.ts

clean:
	rm -rf .data node_modules
