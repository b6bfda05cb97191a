#!/usr/bin/env bash
# Makes a Go toolchain at least as new as go.mod's `go` line the first `go`
# on PATH. Sourced by scripts/test.sh and scripts/demo.sh (they call
# ensure_go); run directly, it does the same and prints the PATH line to use:
#
#   eval "$(scripts/ensure-go.sh)"     # then: go version, make build, ...
#
# When `go` is missing or too old, the toolchain go.mod names is fetched from
# the Go module proxy, as `go` itself does with GOTOOLCHAIN=auto:
#   https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go<VERSION>.linux-<arch>.zip
# checked against the checksum database (the go.sum-style h1: hash, fetched
# through the proxy's sumdb mirror), unpacked into
# ${XDG_CACHE_HOME:-~/.cache}/directus-backup/go/ and checked once more by
# running `go version`. Nothing is written inside the repository. When that
# is not possible (no network, no curl/wget, no unzip/python3), it prints the
# exact commands to install Go by hand and fails.
#
# Settings: DIRECTUS_BACKUP_GO_VERSION (e.g. 1.26.0) overrides go.mod;
# GOPROXY's first https entry is used instead of proxy.golang.org when set.

_eg_log() { printf '[ensure-go] %s\n' "$*" >&2; }

# _eg_want prints the toolchain go.mod asks for (its `toolchain` line, else
# its `go` line), without the "go" prefix, e.g. 1.26.0.
_eg_want() {
  local root=$1 v
  if [ -n "${DIRECTUS_BACKUP_GO_VERSION:-}" ]; then
    echo "${DIRECTUS_BACKUP_GO_VERSION#go}"
    return
  fi
  v=$(awk '$1 == "toolchain" { sub(/^go/, "", $2); print $2; exit }' "$root/go.mod")
  [ -n "$v" ] || v=$(awk '$1 == "go" { print $2; exit }' "$root/go.mod")
  # Since Go 1.21 releases are named 1.N.P; "go 1.21" means 1.21.0.
  case $v in
    *.*.*) ;;
    *) v=$v.0 ;;
  esac
  echo "$v"
}

# _eg_ok GOBIN WANT succeeds when GOBIN runs and is at least WANT.
_eg_ok() {
  local have
  # GOTOOLCHAIN=local: report this binary's own version, never switch.
  have=$(GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null) || return 1
  have=${have#go}
  have=${have%%[!0-9.]*} # 1.27rc1 -> 1.27
  [ -n "$have" ] || return 1
  [ "$(printf '%s\n%s\n' "$2" "$have" | sort -V | head -n 1)" = "$2" ]
}

_eg_arch() {
  case $(uname -m) in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    armv6l | armv7l) echo armv6l ;;
    i386 | i686) echo 386 ;;
    ppc64le) echo ppc64le ;;
    s390x) echo s390x ;;
    riscv64) echo riscv64 ;;
    *) return 1 ;;
  esac
}

_eg_fetch() { # URL FILE
  if command -v curl >/dev/null; then
    curl -fsSL --retry 2 -o "$2" "$1"
  elif command -v wget >/dev/null; then
    wget -q -O "$2" "$1"
  else
    _eg_log "neither curl nor wget is installed"
    return 1
  fi
}

_eg_unzip() { # ZIP DIR
  if command -v unzip >/dev/null; then
    unzip -q "$1" -d "$2"
  elif command -v python3 >/dev/null; then
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"
  else
    _eg_log "neither unzip nor python3 is installed"
    return 1
  fi
}

_eg_hexbin() { # hex on stdin -> bytes, without xxd
  local hex
  hex=$(cat)
  printf '%b' "$(printf '%s' "$hex" | sed 's/../\\x&/g')"
}

_eg_manual() {
  local v=$1 arch=${2:-amd64}
  cat >&2 <<EOF
[ensure-go] Go $v or newer is needed. To install it by hand:
    curl -fsSLO https://go.dev/dl/go$v.linux-$arch.tar.gz
    sha256sum go$v.linux-$arch.tar.gz   # compare with https://go.dev/dl/ (the SHA256 column)
    sudo rm -rf /usr/local/go && sudo tar -C /usr/local -xzf go$v.linux-$arch.tar.gz
    export PATH=/usr/local/go/bin:\$PATH
EOF
}

# ensure_go [REPO_ROOT] puts a suitable go first on PATH, or explains how
# to get one and returns 1.
ensure_go() {
  local root=${1:-.} want arch name dir modpath proxy tmp url sumurl
  want=$(_eg_want "$root") || return 1
  if command -v go >/dev/null && _eg_ok "$(command -v go)" "$want"; then
    return 0
  fi
  if ! arch=$(_eg_arch) || [ "$(uname -s)" != Linux ]; then
    _eg_log "no Go toolchain to fetch for $(uname -s) $(uname -m)"
    _eg_manual "$want"
    return 1
  fi
  name=go$want.linux-$arch
  dir=${XDG_CACHE_HOME:-$HOME/.cache}/directus-backup/go/$name
  modpath=golang.org/toolchain@v0.0.1-$name
  if [ -x "$dir/$modpath/bin/go" ] && _eg_ok "$dir/$modpath/bin/go" "$want"; then
    export PATH="$dir/$modpath/bin:$PATH"
    return 0
  fi
  if command -v go >/dev/null; then
    _eg_log "$(GOTOOLCHAIN=local go version 2>/dev/null || echo 'go (unknown version)') is older than go.mod's $want; fetching go$want"
  else
    _eg_log "go is not installed; fetching go$want"
  fi

  proxy=https://proxy.golang.org
  case ${GOPROXY:-} in
    https://*) proxy=${GOPROXY%%[,|]*} ;;
  esac
  proxy=${proxy%/}
  url=$proxy/golang.org/toolchain/@v/v0.0.1-$name.zip
  sumurl=$proxy/sumdb/sum.golang.org/lookup/golang.org/toolchain@v0.0.1-$name
  # The temporary folder sits beside the cache entry, so the final rename
  # stays on one filesystem.
  mkdir -p "$(dirname "$dir")" || return 1
  tmp=$(mktemp -d "$(dirname "$dir")/.fetch.XXXXXX") || return 1
  local rc=0
  _eg_install "$want" "$arch" "$name" "$dir" "$modpath" "$url" "$sumurl" "$tmp" || rc=$?
  rm -rf "$tmp"
  [ $rc -eq 0 ] || return $rc
  export PATH="$dir/$modpath/bin:$PATH"
  _eg_log "using $(GOTOOLCHAIN=local go version) from $dir/$modpath"
}

# _eg_install downloads, checks and unpacks one toolchain into DIR.
_eg_install() {
  local want=$1 arch=$2 name=$3 dir=$4 modpath=$5 url=$6 sumurl=$7 tmp=$8 want_h1 got_h1
  _eg_log "downloading $url"
  if ! _eg_fetch "$url" "$tmp/go.zip"; then
    _eg_log "download failed"
    _eg_manual "$want" "$arch"
    return 1
  fi
  if ! _eg_fetch "$sumurl" "$tmp/sum" && ! _eg_fetch "https://sum.golang.org/lookup/golang.org/toolchain@v0.0.1-$name" "$tmp/sum"; then
    _eg_log "could not reach the checksum database for $name"
    _eg_manual "$want" "$arch"
    return 1
  fi
  want_h1=$(awk -v m="golang.org/toolchain" -v v="v0.0.1-$name" '$1 == m && $2 == v { print $3; exit }' "$tmp/sum")
  if [ -z "$want_h1" ]; then
    _eg_log "the checksum database has no entry for $name"
    _eg_manual "$want" "$arch"
    return 1
  fi
  mkdir "$tmp/x"
  if ! _eg_unzip "$tmp/go.zip" "$tmp/x"; then
    _eg_manual "$want" "$arch"
    return 1
  fi
  got_h1="h1:$(cd "$tmp/x" && find "$modpath" -type f -print | LC_ALL=C sort | while IFS= read -r f; do
    sha256sum "$f"
  done | sha256sum | cut -d' ' -f1 | _eg_hexbin | base64)"
  if [ "$got_h1" != "$want_h1" ]; then
    _eg_log "checksum mismatch for $name: the zip hashes to $got_h1, the checksum database says $want_h1; not used"
    return 1
  fi
  _eg_log "checksum $got_h1 matches the checksum database"
  # Module zips need not carry executable bits; set them as go does.
  chmod +x "$tmp/x/$modpath/bin/"* "$tmp/x/$modpath/pkg/tool/"*/* 2>/dev/null || true
  if ! _eg_ok "$tmp/x/$modpath/bin/go" "$want"; then
    _eg_log "the fetched go does not run or reports another version"
    return 1
  fi
  rm -rf "$dir"
  # Rename into place, so a cut-short run never leaves a half toolchain.
  mv "$tmp/x" "$dir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ensure_go "$(cd "$(dirname "$0")/.." && pwd)"
  printf 'export PATH=%q:"$PATH"\n' "$(dirname "$(command -v go)")"
fi
