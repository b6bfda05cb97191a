VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build test demo clean
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/directus-backup ./cmd/directus-backup

test:
	scripts/test.sh

demo:
	scripts/demo.sh

clean:
	rm -rf bin
