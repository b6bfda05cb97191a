VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build test demo clean
# scripts/ensure-go.sh puts a Go toolchain as new as go.mod's first on PATH
# (fetching it when go is missing or too old) and prints that PATH line.
build:
	eval "$$(scripts/ensure-go.sh)" && CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/directus-backup ./cmd/directus-backup

test:
	scripts/test.sh

demo:
	scripts/demo.sh

clean:
	rm -rf bin
