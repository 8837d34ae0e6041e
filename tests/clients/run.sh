#!/usr/bin/env bash
# The real-client suite: the unmodified Azure CLI (az sql midb log-replay …) and azure-mgmt-sql
# against `lrs serve` over HTTPS with certificate verification on, with backups in Azurite.
#
# It builds the lrs binary (cargo build -p lrs --locked; LRS_BIN=path skips that), starts an
# in-memory Azurite and `lrs serve` on free loopback ports (through lrs_server.py), logs az in to an isolated profile
# (a temporary AZURE_CONFIG_DIR with a cloud whose ARM and AAD endpoints are the emulator:
# docs/references.md#pointing-the-clients-at-the-emulator), runs pytest on this folder, and stops everything it started.
#
#   tests/clients/setup.sh    # once: the clients into tests/clients/.venv, .venv-stable, .venv-old, .venv-newest
#   tests/clients/run.sh      # extra arguments go to pytest, e.g. -k continuous -x
#
# Under CI (CI=true) a missing tool is an error; elsewhere the suite is skipped with a message
# (a missing SDK venv other than .venv skips only that SDK's test).
# LRS_CLIENTS_KEEP=1 keeps the scratch folder (server log, data) for a look afterwards.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${LRS_CLIENTS_VENV:-$here/.venv}"
ci="${CI:-}"

unavailable() {
  if [ -n "$ci" ]; then
    echo "error: $1" >&2
    exit 1
  fi
  echo "warning: $1: the real-client suite (tests/clients) is skipped" >&2
  # scripts/test counts this in its summary.
  if [ -n "${LRS_SKIP_LOG:-}" ]; then echo "tests/clients (whole suite): $1" >>"$LRS_SKIP_LOG"; fi
  exit 0
}

installed() { # venv requirements-file: installed from exactly this file by setup.sh
  [ -x "$1/bin/python" ] &&
    [ "$(cat "$1/.requirements.sha256" 2>/dev/null)" = "$(sha256sum "$2" | cut -d' ' -f1)" ]
}
installed "$venv" "$here/requirements.txt" ||
  unavailable "the Python clients in $venv are missing or out of date (run tests/clients/setup.sh)"
# The other azure-mgmt-sql releases, one venv each, for test_sdk_versions.py: the test reads the
# python from the variable. A missing venv is an error under CI; elsewhere the variable is
# empty and only that release's test is skipped.
sdk_venv() { # variable venv requirements-file
  if installed "$2" "$3"; then
    export "$1=$2/bin/python"
  elif [ -n "$ci" ]; then
    echo "error: $2 is missing or out of date (run tests/clients/setup.sh)" >&2
    exit 1
  else
    echo "warning: $2 is missing or out of date (run tests/clients/setup.sh): its SDK test is skipped" >&2
    export "$1="
  fi
}
sdk_venv CLIENTS_STABLE_PYTHON "${LRS_CLIENTS_STABLE_VENV:-$here/.venv-stable}" "$here/requirements-stable.txt"
sdk_venv CLIENTS_OLD_PYTHON "${LRS_CLIENTS_OLD_VENV:-$here/.venv-old}" "$here/requirements-old.txt"
sdk_venv CLIENTS_NEWEST_PYTHON "${LRS_CLIENTS_NEWEST_VENV:-$here/.venv-newest}" "$here/requirements-newest.txt"
command -v azurite-blob >/dev/null 2>&1 ||
  unavailable "azurite-blob is not installed (scripts/services/azurite.sh install)"
py="$venv/bin/python"

if [ -z "${LRS_BIN:-}" ]; then
  (cd "$root" && cargo build -p lrs --locked)
  # Honour CARGO_TARGET_DIR (relative to the workspace root, as cargo does).
  target_dir="${CARGO_TARGET_DIR:-target}"
  case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
  LRS_BIN="$target_dir/debug/lrs"
fi
[ -x "$LRS_BIN" ] || { echo "error: $LRS_BIN is not an executable" >&2; exit 1; }
LRS_BIN="$(cd "$(dirname "$LRS_BIN")" && pwd)/$(basename "$LRS_BIN")" # pytest runs elsewhere

# The servers started here and by the tests take their settings from the command line only:
# a developer's LRS_STORE, LRS_PROFILE… must not change what the suite tests.
unset LRS_DATA_DIR LRS_HTTPS LRS_HTTP LRS_STORE LRS_PROFILE LRS_TIME_SCALE LRS_POLL_INTERVAL \
  LRS_S3_ENDPOINT LRS_S3_REGION LRS_NODE
export NO_COLOR=1 # plain server logs

work="$(mktemp -d "${TMPDIR:-/tmp}/lrs-clients.XXXXXX")"
azurite_pid=""
lrs_pid=""
stop_services() {
  local status=$?
  for pid in $lrs_pid $azurite_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  if [ "$status" -ne 0 ] && [ -f "$work/serve.log" ]; then
    echo "--- lrs serve stderr (last 60 lines; full log: $work/serve.log) ---" >&2
    tail -n 60 "$work/serve.log" >&2 || true
    echo "--- azurite (last 20 lines) ---" >&2
    tail -n 20 "$work/azurite.log" >&2 || true
  fi
  if [ -n "${LRS_CLIENTS_KEEP:-}" ] || [ "$status" -ne 0 ]; then
    echo "scratch folder kept: $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap stop_services EXIT
trap 'exit 130' INT TERM

# A free loopback port (the kernel picks it; nothing else binds it in the meantime in practice).
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # host port seconds
  "$py" - "$1" "$2" "$3" <<'EOF'
import socket, sys, time
host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + limit
while True:
    try:
        socket.create_connection((host, port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"nothing listens on {host}:{port} after {limit:.0f} s")
        time.sleep(0.1)
EOF
}

# Azurite, in memory.
azurite_port="$(free_port)"
azurite-blob --inMemoryPersistence --skipApiVersionCheck --disableTelemetry \
  --blobHost 127.0.0.1 --blobPort "$azurite_port" --silent >"$work/azurite.log" 2>&1 &
azurite_pid=$!
wait_port 127.0.0.1 "$azurite_port" 30

# lrs serve: HTTPS (the ARM endpoint) and plain HTTP on free ports, started by the suite's one
# harness (lrs_server.py's LrsServer: ready line, then /healthz), which prints one JSON line and
# leaves it running; stderr in $work/serve.log.
ready="$(cd "$here" && "$py" lrs_server.py serve "$LRS_BIN" "$work/lrs" "$work" \
  --poll-interval 0.2 --retry-after 1)" || { echo "error: lrs serve did not start" >&2; exit 1; }
field() { "$py" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$ready" "$1"; }
lrs_pid="$(field pid)"
arm="$(field arm)"
http_base="$(field http)"
cert="$(field cert)"
echo "lrs serve: $arm (cert $cert), $http_base; azurite: 127.0.0.1:$azurite_port"

export CLIENTS_LRS_BIN="$LRS_BIN"
export CLIENTS_ARM="$arm"
export CLIENTS_HTTP="$http_base"
export CLIENTS_CERT="$cert"
export CLIENTS_AZURITE="http://127.0.0.1:$azurite_port"
export CLIENTS_WORK="$work"
export CLIENTS_AZ="$venv/bin/az"
export REQUESTS_CA_BUNDLE="$cert"   # az, MSAL and azure-core trust the emulator's certificate
export AZURE_CONFIG_DIR="$work/az"  # an isolated az profile
export AZURE_CORE_ONLY_SHOW_ERRORS=true
unset AZURE_CLI_DISABLE_CONNECTION_VERIFICATION IDENTITY_ENDPOINT IDENTITY_HEADER MSI_ENDPOINT

az_step() { # az args…: run, and on failure show what az said
  local out
  if ! out="$("$venv/bin/az" "$@" 2>&1)"; then
    echo "error: az $* failed:" >&2
    echo "$out" >&2
    exit 1
  fi
}
tenant="00000000-0000-0000-0000-00000000000a"
az_step config set core.instance_discovery=false core.collect_telemetry=false
az_step cloud register -n LrsEmu --endpoint-resource-manager "$CLIENTS_ARM/" \
  --endpoint-active-directory "$CLIENTS_ARM" \
  --endpoint-active-directory-resource-id https://management.core.windows.net/ \
  --skip-endpoint-discovery
az_step cloud set -n LrsEmu
az_step login --service-principal -u 22222222-2222-2222-2222-222222222222 -p not-a-secret \
  --tenant "$tenant"
CLIENTS_SUBSCRIPTION="$("$venv/bin/az" account show --query id -o tsv)"
export CLIENTS_SUBSCRIPTION
echo "az logged in to cloud LrsEmu, subscription $CLIENTS_SUBSCRIPTION"

cd "$here"
"$py" -m pytest -p no:cacheprovider -o junit_family=xunit2 "$@"
