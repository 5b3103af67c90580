#!/usr/bin/env bash
# Prints the path of a FerretDB (v1, MongoDB wire protocol) binary, building it
# into .tools/bin/ when there is none. Idempotent: a second run only prints.
# Progress goes to stderr so that `bin=$(scripts/ensure-ferretdb.sh)` works.
set -euo pipefail

VERSION=v1.24.2
MODULE=github.com/FerretDB/FerretDB
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST_DIR="$ROOT/.tools/bin"
DEST="$DEST_DIR/ferretdb"

if command -v ferretdb >/dev/null 2>&1; then
  command -v ferretdb
  exit 0
fi
if [[ -x "$DEST" ]]; then
  echo "$DEST"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    echo "ensure-ferretdb: 'go' is not installed (needed to build FerretDB $VERSION); install Go or put a ferretdb binary on PATH" >&2
    exit 1
  fi
fi

# Never let go try to download another toolchain: only the module proxy is reachable.
export GOTOOLCHAIN=local
export GOFLAGS=-mod=mod

tmp=$(mktemp -d)
cleanup() { chmod -R u+w "$tmp" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

echo "ensure-ferretdb: building FerretDB $VERSION into $DEST (takes a minute or two)..." >&2
cd "$tmp"
go mod init ferretbuild >&2
# `go install pkg@version` needs the proxy's @v/list, which is refused here;
# `go get` of an exact version does not.
go get "$MODULE/cmd/ferretdb@$VERSION" >&2
src=$(go list -m -f '{{.Dir}}' "$MODULE")
cp -r "$src" ./ferretdb-src
chmod -R u+w ferretdb-src
# The module zip lacks the generated version file; without it the binary panics at start.
echo "$VERSION" > ferretdb-src/build/version/version.txt
go mod edit -replace "$MODULE=./ferretdb-src"
mkdir -p "$DEST_DIR"
# Build next to the destination and rename, so a half-written binary is never picked up.
go build -o "$DEST.tmp.$$" "$MODULE/cmd/ferretdb" >&2
mv -f "$DEST.tmp.$$" "$DEST"
echo "ensure-ferretdb: built $("$DEST" --version 2>/dev/null | head -n1 || true)" >&2
echo "$DEST"
