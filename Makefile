# The README's two commands are `make run` and `make test`; .ci/run calls `make test`.
GO ?= go
PKGS := ./...

.PHONY: run build test check deps bench proto wasm wasm-check clean

run:
	$(GO) run ./cmd/gnrhost serve --plugins examples/phase5.yaml

build:
	$(GO) build -o bin/gnrhost ./cmd/gnrhost

# test installs what the tests need (a no-op when present), checks formatting and vet,
# then runs every test with the race detector.
test: deps check wasm-check
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

deps:
	@scripts/deps.sh

# wasm rebuilds every example page module; wasm-check fails when a committed module does
# not match its sources.
wasm:
	scripts/build-wasm.sh

wasm-check:
	scripts/build-wasm.sh --check

bench:
	scripts/bench.sh

proto:
	$(GO) generate ./abi/...

clean:
	rm -rf bin
