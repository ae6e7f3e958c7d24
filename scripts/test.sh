#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian machine, then run every check and test:
# linters (ruff, mypy, eslint, prettier), jest, and pytest (server, backends, simulator,
# the browser end-to-end tests in Debian's Chromium, and a real JupyterHub behind
# configurable-http-proxy). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 DEBIAN_FRONTEND=noninteractive

if [ ! -x /usr/bin/chromium ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  $sudo apt-get install -y -q chromium
fi

# Builds the lab extension (jlpm install + build:prod) and installs both halves. The build
# runs in this environment, its requirements (pyproject's build-system) installed first:
# an isolated build environment would install JupyterLab once more (about a minute).
build_requires="$(python -c 'import tomllib
print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"])')"
# shellcheck disable=SC2086 # one word per requirement
python -m pip install -q $build_requires
python -m pip install -q --no-build-isolation ".[test,bench]"

# configurable-http-proxy (npm) for the JupyterHub tests (tests/hub), in .cache/chp
chp_bin="$PWD/.cache/chp/node_modules/.bin"
if [ ! -x "$chp_bin/configurable-http-proxy" ]; then
  npm install -q --prefix "$PWD/.cache/chp" --no-audit --no-fund configurable-http-proxy
fi
export PATH="$chp_bin:$PATH"

(cd labextension && jlpm install --immutable)

# The static checks and jest run at once (two cores); each one's output is shown whole.
checks="$(mktemp -d)"
(cd labextension && jlpm lint:check) > "$checks/lint" 2>&1 &
lint=$!
(cd labextension && jlpm test) > "$checks/jest" 2>&1 &
jest=$!
(
  ruff check jupyter_gemini_live tests benchmarks
  ruff format --check jupyter_gemini_live tests benchmarks
  mypy
) > "$checks/python" 2>&1 &
python=$!
failed=""
for check in lint jest python; do
  wait "${!check}" || failed="$failed $check"  # the pid in the variable named $check
  cat "$checks/$check"
done
[ -z "$failed" ] || { echo "failed:$failed" >&2; exit 1; }

# Two workers: the browser and hub tests run in order on one (their xdist_group), the rest
# of the suite on the other meanwhile.
python -m pytest -p no:cacheprovider -n 2 --dist loadgroup --durations=15 "$@"
