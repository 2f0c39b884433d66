# make run   installs what is missing, builds and serves http://localhost:8080
# make test  installs what is missing and runs every test
GO ?= go
BIN := bin/mcu

.PHONY: deps build run test vet fmt bench clean

deps:
	@bash scripts/deps.sh

build: deps
	$(GO) build -o $(BIN) ./cmd/mcu

run: build
	./$(BIN) serve

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)

# Packages run one at a time: the media and browser tests judge frame rates
# and timings, and two of them side by side on a 2-core machine starve each
# other. The whole suite still takes about five minutes.
test: deps vet
	$(GO) test -race -p 1 -count=1 -timeout 14m ./...

bench: build
	bash bench/compose.sh

clean:
	rm -rf bin
