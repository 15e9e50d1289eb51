SHELL := /bin/bash
NODE := node_modules/.bin/node

.PHONY: install test check run psql clean bench soak

node_modules/.installed: package.json package-lock.json $(wildcard patches/*.patch)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: node_modules/.installed

test: install
	npm test --silent -- $(ARGS)

check: install
	npm run --silent check

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
