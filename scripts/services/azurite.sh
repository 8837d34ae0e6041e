#!/usr/bin/env bash
# Azurite (the Azure Storage emulator) for the tests that talk to Azure Blob Storage.
#
#   scripts/services/azurite.sh install   install azurite@3.35.0 from npm unless azurite-blob
#                                         is already on PATH (then it is left alone, whatever
#                                         its version), then print the installed version
#   scripts/services/azurite.sh version   print the version of the azurite-blob on PATH
#
# The tests start their own in-memory Azurite on a free loopback port (lrs-source's `testing`
# module), or use an already running one named by LRS_AZURITE_BLOB_URL
# (e.g. http://127.0.0.1:10000/devstoreaccount1).
#
# Node.js: the pinned release must accept the machines' Node.js, which is 20 (the `rust` kind's
# nodejs package; Debian 12's own is 18), and Node.js 22 cannot be installed there (Debian has
# none, and the npm `node` package downloads its binary from outside the registries). Each
# release's package.json declares (`npm view azurite@V engines`): 3.37.0 `node >= 22.0.0`,
# 3.36.0 `>= 21.0.0`, 3.35.0 `>= 10.0.0`. So 3.35.0, the newest that accepts Node.js 20:
# npm installs it without the EBADENGINE warning, and the Azurite suites pass against it. We
# start it with --skipApiVersionCheck, so its older list of service versions does not matter.
set -euo pipefail

AZURITE_VERSION="3.35.0"

usage() {
  echo "usage: $0 install|version" >&2
  exit 2
}

print_version() {
  if ! command -v azurite-blob >/dev/null 2>&1; then
    echo "azurite-blob is not on PATH" >&2
    return 1
  fi
  echo "azurite-blob $(azurite-blob --version)"
}

install() {
  if command -v azurite-blob >/dev/null 2>&1; then
    echo "azurite-blob already installed: $(command -v azurite-blob)"
  else
    if ! command -v npm >/dev/null 2>&1; then
      echo "error: npm is not installed; Azurite needs Node.js (10 or newer) and npm (scripts/install installs Debian's)" >&2
      exit 1
    fi
    echo "installing azurite@${AZURITE_VERSION} with npm"
    npm install -g --no-audit --no-fund "azurite@${AZURITE_VERSION}"
    hash -r
  fi
  print_version
}

case "${1:-}" in
  install) install ;;
  version) print_version ;;
  *) usage ;;
esac
