#!/usr/bin/env bash
# Install the real clients of tests/clients into virtualenvs, so the system Python stays clean
# (each azure-mgmt-sql release needs its own: azure-cli pins 4.0.0b22):
#   .venv         requirements.txt: azure-cli 2.91.0 (with azure-mgmt-sql 4.0.0b22),
#                 azure-storage-blob, pytest (~1.5 min, ~750 MB);
#   .venv-stable  requirements-stable.txt: azure-mgmt-sql 4.0.0, the latest stable SDK (~10 s);
#   .venv-old     requirements-old.txt: azure-mgmt-sql 3.0.1, the old restore-details shape (~10 s);
#   .venv-newest  requirements-newest.txt: azure-mgmt-sql 5.0.0b2, the newest SDK (~10 s).
# .ci/run calls this; developers run it once. A venv whose requirements file has not changed
# since it was installed is left alone.
#
#   tests/clients/setup.sh
#   LRS_CLIENTS_VENV=/p LRS_CLIENTS_STABLE_VENV=/p2 LRS_CLIENTS_OLD_VENV=/p3 \
#     LRS_CLIENTS_NEWEST_VENV=/p4 tests/clients/setup.sh   # elsewhere
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"

if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' >/dev/null 2>&1; then
  # Debian's python3 ships venv/ensurepip separately.
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing python3-venv (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "error: '$python -m venv' is not available (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
fi

install_venv() { # venv requirements-file
  local venv="$1" requirements="$2" stamp want start
  stamp="$venv/.requirements.sha256"
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$venv is up to date with $(basename "$requirements")"
    return
  fi
  start=$SECONDS
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" >"$stamp"
  echo "installed $(basename "$requirements") into $venv in $((SECONDS - start)) s"
}

install_venv "${LRS_CLIENTS_VENV:-$here/.venv}" "$here/requirements.txt"
install_venv "${LRS_CLIENTS_STABLE_VENV:-$here/.venv-stable}" "$here/requirements-stable.txt"
install_venv "${LRS_CLIENTS_OLD_VENV:-$here/.venv-old}" "$here/requirements-old.txt"
install_venv "${LRS_CLIENTS_NEWEST_VENV:-$here/.venv-newest}" "$here/requirements-newest.txt"
