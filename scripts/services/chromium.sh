#!/usr/bin/env bash
# Chromium for the dashboard's browser test (tests/clients/test_dashboard.py): Debian's
# `chromium` package, driven headless over the DevTools Protocol. No browser is downloaded from
# anywhere else (no Playwright or Selenium browser download, no driver).
#
#   chromium.sh install    as root: install the `chromium` package unless /usr/bin/chromium (or
#                          $LRS_CHROMIUM) is already there; prints the browser's version
set -euo pipefail

me="$(basename "$0")"
die() { echo "$me: error: $*" >&2; exit 1; }
say() { echo "$me: $*" >&2; }

cmd_install() {
  local bin="${LRS_CHROMIUM:-/usr/bin/chromium}"
  if [ -x "$bin" ]; then
    say "Chromium is already installed: $bin"
  else
    [ "$(id -u)" = 0 ] || die "installing Chromium needs root (apt-get install chromium): the dashboard's browser test needs it"
    command -v apt-get >/dev/null || die "apt-get not found: install Chromium by hand and set LRS_CHROMIUM=path (the dashboard's browser test needs it)"
    say "installing the chromium package (for the dashboard's browser test)"
    apt-get update >&2 || die "apt-get update failed: cannot install Chromium for the dashboard's browser test"
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2 ||
      die "apt-get install chromium failed: the dashboard's browser test (tests/clients/test_dashboard.py) needs it"
    [ -x "$bin" ] || die "the chromium package is installed but $bin is not an executable"
  fi
  # Chromium refuses to run as root without --no-sandbox, even for --version on some builds.
  "$bin" --headless --no-sandbox --version 2>/dev/null || "$bin" --version
}

case "${1:-}" in
  install) cmd_install ;;
  *) die "usage: $me install" ;;
esac
