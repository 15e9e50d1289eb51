SHELL := /bin/bash
NODE := node_modules/.bin/node

.PHONY: install build test check run psql clean bench soak browser nginx schema

node_modules/.installed: package.json package-lock.json $(wildcard patches/*.patch)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: node_modules/.installed

# the live page's bundle and the client library as a package (dist/), remade when a source changes
BUILD_INPUTS := $(shell find src/client src/protocol src/web -type f) tsconfig.json tsconfig.client.json
dist/.built: node_modules/.installed $(BUILD_INPUTS)
	npm run --silent build
	@touch $@

build: dist/.built

test: install build browser nginx
	npm test --silent -- $(ARGS)

# Chromium for test/browser (Debian's package), installed only when missing; apt-get needs root
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make browser: /usr/bin/chromium is missing; as root: apt-get install -y chromium" >&2; exit 1; fi; \
	  echo "# installing chromium for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	fi

# nginx for test/deploy (Debian's package), installed only when missing; without root the test skips
nginx:
	@if [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make nginx: /usr/sbin/nginx is missing, so the load balancer test will skip; as root: apt-get install -y nginx" >&2; exit 0; fi; \
	  echo "# installing nginx for the load balancer test"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq nginx >/dev/null; \
	fi

check: install
	npm run --silent check

# sql/schema.sql: the schema a fresh migration leaves (make test fails while it is stale)
schema: install
	$(NODE) src/cli/schema.ts

run: install build
	$(NODE) --max-semi-space-size=16 src/cli/run.ts

bench: install
	$(NODE) bench/run.ts

# a long bid storm with faults, checked against the database; writes docs/reliability.md
soak: install
	$(NODE) test/storm/soak.ts

psql:
	@$(NODE) src/cli/psql.ts

# as root, make run's cluster may live under /var/lib/auction-service, .data/postgres/data linking to it
clean:
	@d=$$(readlink .data/postgres/data 2>/dev/null); case "$$d" in /var/lib/auction-service/clusters/*/data) rm -rf "$${d%/data}";; esac
	rm -rf .data node_modules dist
