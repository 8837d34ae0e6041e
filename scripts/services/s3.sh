#!/usr/bin/env bash
# An S3-compatible server for the tests (the S3 source's conformance suite,
# crates/lrs-source/tests/s3.rs): moto's server mode, from PyPI, in a virtualenv of its own.
#
#   s3.sh install           create the virtualenv (default scripts/services/.venv-s3, or
#                           $LRS_S3_VENV) with the pinned moto[server]; left alone when it
#                           already holds that version
#   s3.sh start DIR         start the server on a free 127.0.0.1 port with its log and pid in
#                           DIR, wait until it answers, print its URL (http://127.0.0.1:PORT) on
#                           stdout; everything else goes to stderr
#   s3.sh stop DIR          stop the server started in DIR and delete DIR
#
# It listens on loopback only and keeps everything in memory.
set -euo pipefail

me="$(basename "$0")"
die() { echo "$me: error: $*" >&2; exit 1; }
say() { echo "$me: $*" >&2; }

here="$(cd "$(dirname "$0")" && pwd)"
venv="${LRS_S3_VENV:-$here/.venv-s3}"
# moto 5.2.6 (2026): server mode needs the [server] extra (flask, werkzeug).
requirement="moto[server]==5.2.6"
python="${PYTHON:-python3}"

install() {
  if [ -x "$venv/bin/moto_server" ] && [ "$(cat "$venv/.requirement" 2>/dev/null)" = "$requirement" ]; then
    say "$venv already holds $requirement"
    return
  fi
  local start=$SECONDS
  rm -rf "$venv"
  "$python" -m venv "$venv" || die "'$python -m venv' failed (Debian: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement" \
    || die "pip could not install $requirement"
  echo "$requirement" >"$venv/.requirement"
  say "installed $requirement into $venv in $((SECONDS - start)) s"
}

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir="${1:?usage: $me start DIR}" port url
  [ -x "$venv/bin/moto_server" ] || die "moto is not installed in $venv (run: $me install)"
  mkdir -p "$dir"
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/moto.pid"
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$url/moto-api/" 2>/dev/null; then
      echo "$url"
      return
    fi
    kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null || { cat "$dir/moto.log" >&2; die "moto_server exited"; }
    sleep 0.1
  done
  cat "$dir/moto.log" >&2
  die "moto_server did not answer on $url within 20 s"
}

stop() {
  local dir="${1:?usage: $me stop DIR}"
  if [ -f "$dir/moto.pid" ]; then
    kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "usage: $me install | start DIR | stop DIR" ;;
esac
