# wallpaperd — the front door. `make` alone lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Tools are pinned and installed into .tools/bin by this Makefile itself.
TOOLS_BIN   := $(CURDIR)/.tools/bin
export PATH := $(TOOLS_BIN):$(PATH)
export GOFLAGS := -buildvcs=false
# The Go toolchain, pinned like the tools (go.mod's toolchain line): the
# go command fetches it through the module proxy the first time. go1.26.8,
# on the machines before, carries standard-library vulnerabilities that
# make vuln finds (docs/security.md).
export GOTOOLCHAIN := go1.27.3
# (make 4.3 does not pass exported variables to $(shell …): say it.)
GO_VERSION := $(shell GOTOOLCHAIN=$(GOTOOLCHAIN) go env GOVERSION)

SWAG_VERSION        := v1.16.6
STATICCHECK_VERSION := v0.8.2
VERSITYGW_VERSION   := v1.8.0
GOVULNCHECK_VERSION := v1.9.0
# The vulnerability database is built from this golang.org/x/vulndb
# module version (its data/osv/), so the result changes only when the pin
# does: the online database is not reachable from here. Move it forward
# with `go list -m -versions golang.org/x/vulndb` (pseudo-versions: see
# the module proxy's @latest) and record the result in docs/security.md.
VULNDB_VERSION      := v0.0.0-20261105234957-e22db6528018
VULNDB_DIR          := $(CURDIR)/.tools/vulndb/$(VULNDB_VERSION)

GO_TEST_FLAGS ?= -race -count=1 -timeout 15m
# The Go packages, named explicitly: ./... would wander into node_modules/,
# where some npm packages ship .go files.
GO_PKGS := ./cmd/... ./internal/... ./migrations/...

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

## ---- running ----

.PHONY: run
run: ## Run wallpaperd with every embedded dev default (see README)
	go run ./cmd/wallpaperd serve

.PHONY: build
build: ## Build bin/wallpaperd
	go build -trimpath -o bin/wallpaperd ./cmd/wallpaperd

.PHONY: migrate
migrate: ## Apply pending migrations (DATABASE_URL, or the dev database)
	go run ./cmd/wallpaperd migrate up

# Not part of test: it takes minutes and measures, it does not check.
.PHONY: bench
bench: bench-load ## Load test at size, then the gallery at 1,000,000 wallpapers (HTTP vs raw SQL; the feed cache vs a bare handler) and hot likes on one wallpaper (every answer checked): a throwaway database, the real wallpaperd (BENCH_FLAGS, docs/benchmarks.md)
	go run ./cmd/wallpaperd-bench $(BENCH_FLAGS)

## ---- tools ----

$(TOOLS_BIN)/swag:
	GOBIN=$(TOOLS_BIN) go install github.com/swaggo/swag/cmd/swag@$(SWAG_VERSION)

# staticcheck, like govulncheck, reads the standard library of the Go it
# was built with: one build per toolchain.
STATICCHECK := $(TOOLS_BIN)/staticcheck-$(STATICCHECK_VERSION)-$(GO_VERSION)

$(STATICCHECK):
	GOBIN=$(CURDIR)/.tools/staticcheck-build go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mkdir -p $(TOOLS_BIN)
	mv .tools/staticcheck-build/staticcheck $@ && rmdir .tools/staticcheck-build

$(TOOLS_BIN)/versitygw:
	GOBIN=$(TOOLS_BIN) go install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

# govulncheck loads the packages with the Go it was built with: one build
# per toolchain, so that moving GOTOOLCHAIN rebuilds it.
GOVULNCHECK := $(TOOLS_BIN)/govulncheck-$(GOVULNCHECK_VERSION)-$(GO_VERSION)

$(GOVULNCHECK):
	GOBIN=$(CURDIR)/.tools/govulncheck-build go install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	mkdir -p $(TOOLS_BIN)
	mv .tools/govulncheck-build/govulncheck $@ && rmdir .tools/govulncheck-build

# vulndb's own indexer turns the module's OSV files into the database
# layout govulncheck reads (index/db.json, index/modules.json, ID/*.json).
$(TOOLS_BIN)/vulndb-indexdb-$(VULNDB_VERSION):
	GOBIN=$(CURDIR)/.tools/vulndb-build go install golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION)
	mkdir -p $(TOOLS_BIN)
	mv .tools/vulndb-build/indexdb $@ && rmdir .tools/vulndb-build

$(VULNDB_DIR)/index/db.json: $(TOOLS_BIN)/vulndb-indexdb-$(VULNDB_VERSION)
	@osv=$$(go mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')/data/osv; \
		test -d "$$osv" || { echo "no data/osv in golang.org/x/vulndb@$(VULNDB_VERSION)"; exit 1; }; \
		rm -rf $(VULNDB_DIR).tmp && $< -vulns "$$osv" -out $(VULNDB_DIR).tmp && rm -rf $(VULNDB_DIR) && mv $(VULNDB_DIR).tmp $(VULNDB_DIR)

.PHONY: tools
tools: $(TOOLS_BIN)/swag $(STATICCHECK) $(TOOLS_BIN)/versitygw $(GOVULNCHECK) ## Install the pinned Go tools into .tools/bin

# The proxy tests (cmd/wallpaperd/nginx_test.go, caddy_test.go) run
# deploy/nginx/wallpaperd.conf and deploy/Caddyfile with Debian's nginx and
# Caddy; internal/aigc's tests read our AIGC labels back with exiftool.
# They are system packages, not Go tools.
SYSTEM_PACKAGES := nginx caddy libimage-exiftool-perl

.PHONY: system-packages
system-packages: ## Install the Debian packages the Go tests drive (nginx, Caddy, exiftool) when missing (apt-get, as root or with sudo)
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	test -z "$$missing" || { \
		sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; }

## ---- code generation ----

.PHONY: generate
generate: $(TOOLS_BIN)/swag ## Regenerate docs/ (swagger) from the annotations
	swag fmt -d ./cmd/wallpaperd,./internal/httpapi
	swag init -q -g main.go -d ./cmd/wallpaperd,./internal/httpapi -o docs --parseInternal --outputTypes go,json,yaml

.PHONY: verify
verify: generate ## Regenerate and fail if anything generated is out of date
	@git diff --exit-code -- docs cmd internal || { echo "generated files are out of date: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- docs)" || { echo "untracked generated files in docs/: commit them"; exit 1; }

## ---- quality ----

.PHONY: lint
lint: $(STATICCHECK) ## gofmt, go vet and staticcheck
	@unformatted=$$(gofmt -l cmd internal migrations test); test -z "$$unformatted" || { echo "gofmt needed: $$unformatted"; exit 1; }
	go vet $(GO_PKGS)
	$(STATICCHECK) $(GO_PKGS)
	go vet -tags browser ./test/browser/
	$(STATICCHECK) -tags browser ./test/browser/
	go vet -tags load ./internal/app/
	$(STATICCHECK) -tags load ./internal/app/
	go vet -tags replicas ./cmd/wallpaperd/
	$(STATICCHECK) -tags replicas ./cmd/wallpaperd/

# Part of test: it fails on any reachable vulnerability, the standard
# library's included (go1.26.8 had thirteen, hence GOTOOLCHAIN above). It
# costs about 45 s in a fresh clone when the Go build cache is warm, a few
# minutes on a new machine (docs/security.md).
.PHONY: vuln
vuln: $(GOVULNCHECK) $(VULNDB_DIR)/index/db.json ## govulncheck against the pinned vulnerability database (VULNDB_VERSION): fails on a reachable vulnerability
	$(GOVULNCHECK) -db file://$(VULNDB_DIR) $(GO_PKGS)

.PHONY: test
test: verify lint vuln test-go fuzz test-load test-replicas lint-openapi test-browser test-newman test-miniprogram ## Every test: generated docs, lint, govulncheck, Go tests on real Postgres and S3, fuzzing, the API contract checks, the mini-program
	@echo "make test: all green"

.PHONY: check
check: lint ## The quick loop: build, gofmt, vet, staticcheck and the Go tests (no apt installs, no browser; what is missing is skipped)
	go build ./cmd/...
	go test $(GO_TEST_FLAGS) $(GO_PKGS)

.PHONY: test-go
test-go: $(TOOLS_BIN)/versitygw system-packages ## Go tests with -race against real Postgres, a real S3 server, nginx, Caddy and exiftool
	REQUIRE_S3=1 REQUIRE_NGINX=1 REQUIRE_CADDY=1 REQUIRE_EXIFTOOL=1 go test $(GO_TEST_FLAGS) $(GO_PKGS)

# The load test (internal/app/load_test.go, build tag load): simulated
# users over loopback against a fake image API with 200-800 ms latency.
# make test runs it small with -race; make bench runs it at LOAD_USERS
# without -race and writes its figures for docs/benchmarks.md.
LOAD_USERS       ?= 200
LOAD_GENERATIONS ?= 3

.PHONY: test-load
test-load: ## Load test at a small size with -race: nothing lost, quota exact, no leaks
	go test $(GO_TEST_FLAGS) -tags load -run '^TestLoad$$' ./internal/app/ -args -load.label='(small, -race)'

.PHONY: bench-load
bench-load: ## Load test at LOAD_USERS users (200) x LOAD_GENERATIONS (3); figures in var/load.md
	@mkdir -p var
	go test -count=1 -timeout 30m -tags load -run '^TestLoad$$' -v ./internal/app/ -args \
		-load.users=$(LOAD_USERS) -load.generations=$(LOAD_GENERATIONS) -load.heap-mib=1024 \
		-load.report=$(CURDIR)/var/load.md -load.label='(no -race)'

# The replica test (cmd/wallpaperd/replicas_test.go, build tag replicas):
# three wallpaperd processes on one Postgres and one S3 server behind the
# deploy/ nginx site, one SIGKILLed mid-job; a variant restarts it. About
# a minute once the binary is built; small (three users, nine generations).
.PHONY: test-replicas
test-replicas: $(TOOLS_BIN)/versitygw system-packages ## Three replicas behind nginx, one killed mid-job: every generation once, quota and likes exact, recovery without River's rescuer
	REQUIRE_S3=1 REQUIRE_NGINX=1 go test $(GO_TEST_FLAGS) -tags replicas -run '^TestReplicas$$' -v ./cmd/wallpaperd/

# Each fuzz target runs for FUZZTIME from its seeds (f.Add and the
# committed testdata/fuzz/ corpus); a failing input is written to
# testdata/fuzz/ by go test, to be committed with the fix.
FUZZTIME ?= 10s
FUZZ_TARGETS := \
	./internal/httpapi:FuzzBindJSON \
	./internal/wallpaper:FuzzNormalizePrompt \
	./internal/wallpaper:FuzzCursorDecode \
	./internal/auth:FuzzVerifyAccessToken \
	./internal/aigc:FuzzRead \
	./internal/wechat:FuzzPushOpen

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (10s) each: request decoding, prompts, cursors, access tokens, AIGC labels, WeChat pushes
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## ---- API contract: OpenAPI lint, Swagger UI in a browser, Postman ----

api/node_modules: api/package.json api/package-lock.json ## Node tools for the API checks (Redocly, newman), from api/'s lockfile
	cd api && npm ci --no-audit --no-fund
	@touch api/node_modules

.PHONY: lint-openapi
lint-openapi: api/node_modules ## Lint docs/swagger.json with Redocly (rules and accepted findings: api/redocly.yaml)
	cd api && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true npx --no-install redocly lint --format=stylish ../docs/swagger.json

.PHONY: chromium
chromium: ## Install Debian's headless Chromium when it is missing (for test-browser; apt-get, as root or with sudo)
	@command -v chromium >/dev/null || { \
		sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

.PHONY: test-browser
test-browser: chromium ## Swagger UI and the admin console served by a running wallpaperd, driven in headless Chromium (chromedp)
	REQUIRE_CHROMIUM=1 go test -tags browser -count=1 -timeout 10m ./test/browser/

.PHONY: test-newman
test-newman: api/node_modules ## The Postman collection (api/) with newman against wallpaperd on a fresh database
	api/newman.sh

.PHONY: test-miniprogram
test-miniprogram: ## Mini-program tests (jest + miniprogram-simulate; contract check against docs/swagger.json)
	cd miniprogram && npm ci --no-audit --no-fund && npm test
