# shellcheck shell=bash
# Shared by scripts/test and scripts/dev: the project's Python tools in .venv
# and a moto server on a free loopback port. Source it after setting ROOT and
# defining section() and die().

VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/scripts/requirements-dev.txt"

# Leaves the AWS SDKs and CLIs nothing that could reach a real AWS account:
# every AWS_* variable of the caller goes (profiles, tokens, per-service
# endpoints); only fake credentials remain.
isolate_from_aws() {
  local var
  while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^AWS_' || true)
  export AWS_REGION=us-east-1
  export AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=testing
  export AWS_SECRET_ACCESS_KEY=testing
  export AWS_CONFIG_FILE=/dev/null
  export AWS_SHARED_CREDENTIALS_FILE=/dev/null
  export AWS_EC2_METADATA_DISABLED=true
}

# Creates .venv and installs the pinned Python tools, unless the stamp says
# the same requirements are already installed with the same interpreter.
ensure_venv() {
  ensure_python_env "$VENV" "$REQUIREMENTS"
}

# ensure_python_env DIR REQUIREMENTS: a virtualenv in DIR holding exactly
# the pins of REQUIREMENTS, reinstalled only when they (or Python) change.
ensure_python_env() {
  local venv="$1" requirements="$2" python="${PYTHON:-python3}" stamp="$1/.requirements.sha256" want
  command -v "$python" >/dev/null || die "$python not found: install Python 3.11 with pip and venv"
  want="$(cat "$requirements" <("$python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  section "setup: installing ${requirements#"$ROOT"/} into ${venv#"$ROOT"/} (first run only; takes a few minutes)"
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    rm -rf "$venv"
    "$python" -m venv "$venv" || die "step 'setup' ($python -m venv ${venv#"$ROOT"/}): is the python3-venv package installed?"
  fi
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$venv/bin/python" -m pip install --quiet -r "$requirements" \
    || die "step 'setup' (pip install -r ${requirements#"$ROOT"/})"
  echo "$want" >"$stamp"
}

# Debian's headless Chromium and its WebDriver, for the console's browser
# test; installed with apt-get on first use, as root. The pin names the
# bookworm build it was last checked with. Debian's security updates remove
# a Chromium build from the mirror when they replace it, so a pin that is
# gone gives way to the build Debian now ships (driver and browser always
# of one version), with a note to update the pin, rather than failing CI.
CHROMIUM_VERSION="156.0.8078.114-1~deb12u1"
ensure_browser() {
  local browser driver
  browser="$(dpkg-query -W -f='${Version}' chromium 2>/dev/null || true)"
  driver="$(dpkg-query -W -f='${Version}' chromium-driver 2>/dev/null || true)"
  if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver && -n "$browser" && "$browser" == "$driver" ]]; then
    return 0
  fi
  command -v apt-get >/dev/null || die "step 'setup': chromium is needed and apt-get is not available"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  section "setup: installing chromium and chromium-driver with apt-get (first run only)"
  "${sudo[@]}" apt-get update -qq || die "step 'setup' (apt-get update)"
  local version="$CHROMIUM_VERSION"
  if ! apt-cache madison chromium | grep -qF "| $version |"; then
    version="$(apt-cache policy chromium | sed -n 's/^ *Candidate: *//p')"
    [[ -n "$version" && "$version" != "(none)" ]] || die "step 'setup': Debian has no chromium package"
    printf 'note: Debian no longer has chromium %s; installing %s (update CHROMIUM_VERSION in scripts/lib.sh)\n' \
      "$CHROMIUM_VERSION" "$version"
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "chromium=$version" "chromium-driver=$version" \
    || die "step 'setup' (apt-get install chromium=$version chromium-driver=$version)"
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts moto's server on 127.0.0.1:PORT, logging to LOG, and waits until it
# answers. Sets MOTO_PID and exports AWS_ENDPOINT_URL; returns 1 if it does
# not come up within 30 s.
MOTO_PID=""
start_moto_server() {
  local port="$1" log="$2"
  mkdir -p "$(dirname "$log")"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  "$VENV/bin/python" - "$port" "$MOTO_PID" <<'PY' || return 1
import os, sys, time, urllib.error, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("moto server exited during start-up")
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("moto server did not answer within 30 s")
PY
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
}

stop_moto() {
  if [[ -n "$MOTO_PID" ]]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    MOTO_PID=""
  fi
}
