# mind-relay: the usual targets. `make help` lists them.

GO       ?= go
BIN      ?= bin/relay
IMAGE    ?= mindoffice/mind-relay
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# cmd/relay's `var version, commit string`, stamped at link time.
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

GOPATH_BIN   := $(shell $(GO) env GOPATH)/bin
HELM_VERSION ?= v3.16.4
HELM         ?= $(shell command -v helm 2>/dev/null || echo $(GOPATH_BIN)/helm)
CHART        := helm/mind-relay

.PHONY: all build test test-deploy lint image helm-lint rules tools clean help

all: build ## same as build

build: ## build bin/relay (static, version stamped)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/relay

test: ## run the test suite, exactly as the README and CI do
	./scripts/test.sh

test-deploy: ## only the chart, image and examples checks (needs helm, promtool, amtool)
	$(GO) test -count=1 ./test/deploy/...

lint: ## gofmt, go vet, and golangci-lint when installed
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './vendor/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v golangci-lint >/dev/null 2>&1; then golangci-lint run ./...; \
	else echo "golangci-lint not installed; skipped"; fi

image: ## build the container image $(IMAGE):$(VERSION)
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) \
		-t $(IMAGE):$(VERSION) .

helm-lint: ## lint the chart with its default and CI values
	$(HELM) lint --strict $(CHART)
	@for f in $(CHART)/ci/*-values.yaml; do \
		echo "$(HELM) lint --strict $(CHART) -f $$f"; \
		$(HELM) lint --strict $(CHART) -f $$f || exit 1; \
	done

rules: ## copy the chart's alert rules to examples/prometheus-rules.yml
	cp $(CHART)/files/prometheus-rules.yml examples/prometheus-rules.yml

tools: ## install helm (go install) and, as root on Debian, promtool and amtool
	cd "$$(mktemp -d)" && GOFLAGS=-mod=mod $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		command -v promtool >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager; }; \
	else echo "install promtool (Debian: prometheus) and amtool (prometheus-alertmanager) yourself"; fi

clean: ## remove build output
	rm -rf bin/ dist/ coverage.out

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
