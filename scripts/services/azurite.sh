#!/usr/bin/env bash
# Azurite (the Azure Storage emulator) for the tests that talk to Azure Blob Storage.
#
#   scripts/services/azurite.sh install   install azurite@3.37.0 from npm unless azurite-blob
#                                         is already on PATH (CI runs this as root on a fresh
#                                         machine), then print the installed version
#   scripts/services/azurite.sh version   print the version of the azurite-blob on PATH
#
# The tests start their own in-memory Azurite on a free loopback port (lrs-source's `testing`
# module), or use an already running one named by LRS_AZURITE_BLOB_URL
# (e.g. http://127.0.0.1:10000/devstoreaccount1).
#
# Node.js: azurite 3.37.0 declares `node >= 22` (3.36.0: >= 21; 3.35.0 and older: >= 10). On
# this project's machines (Node.js 20) npm warns EBADENGINE and installs it, and the whole test
# suite passes against it; pinning 3.35.0 instead would drop a year of Azurite fixes.
set -euo pipefail

AZURITE_VERSION="3.37.0"

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
      echo "error: npm is not installed; Azurite needs Node.js (20 works; 22 is what it declares) and npm" >&2
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
