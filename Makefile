# callbridge: build, test and package.
#
#   make build   build/callbridge, static (CGO_ENABLED=0)
#   make test    the test command, .ci/test
#   make man     build/callbridge.8 from `callbridge help` and docs/ (man -l build/callbridge.8)
#   make deb     ./callbridge_VERSION_ARCH.deb (sudo apt install ./callbridge_*.deb)
#   make clean
#
# VERSION comes from the newest v* tag (v1.2.0, 1.2.0+3.gabc1234 after it),
# else from the last commit (0.0~git20261201102600.c389810); dates come
# from the last commit too, so two builds of one commit are the same.

GO       ?= go
BUILD    ?= build
DEB_DIR  ?= .
GOARCH   ?= $(shell $(GO) env GOARCH)
NFPM     ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

GIT_TAG  := $(shell git describe --tags --match 'v[0-9]*' 2>/dev/null)
ifneq ($(GIT_TAG),)
VERSION  ?= $(shell echo '$(GIT_TAG)' | sed -e 's/^v//' -e 's/-\([0-9][0-9]*\)-g\([0-9a-f]*\)$$/+\1.g\2/' -e 's/-\(rc\|beta\|alpha\)/~\1/')
else
GIT_WHEN := $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S 2>/dev/null)
GIT_HASH := $(shell git rev-parse --short=7 HEAD 2>/dev/null)
VERSION  ?= $(if $(GIT_HASH),0.0~git$(GIT_WHEN).$(GIT_HASH),0.0)
endif
SOURCE_DATE_EPOCH ?= $(or $(shell git log -1 --format=%ct 2>/dev/null),0)

GOBUILD  := CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false

.PHONY: all build test man deb clean
all: build

build:
	GOARCH=$(GOARCH) $(GOBUILD) -ldflags '-s -w -X main.version=$(VERSION)' -o $(BUILD)/callbridge ./cmd/callbridge

test:
	.ci/test

# The command summary comes from the command itself, built for this
# machine whatever GOARCH the package is for.
man:
	mkdir -p $(BUILD)
	$(GOBUILD) -o $(BUILD)/callbridge-help ./cmd/callbridge
	$(BUILD)/callbridge-help help > $(BUILD)/usage.txt
	rm -f $(BUILD)/callbridge-help
	$(GO) run ./internal/manpage/mkman -root . -usage $(BUILD)/usage.txt \
		-version '$(VERSION)' -epoch $(SOURCE_DATE_EPOCH) -o $(BUILD)/callbridge.8
	gzip -9 -n -c $(BUILD)/callbridge.8 > $(BUILD)/callbridge.8.gz

deb: build man
	mkdir -p $(DEB_DIR)
	VERSION='$(VERSION)' PKG_ARCH=$(GOARCH) BUILD='$(BUILD)' SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) \
		$(NFPM) package --packager deb --config systemd/deb/nfpm.yaml --target $(DEB_DIR)/

clean:
	rm -rf $(BUILD) callbridge_*.deb
