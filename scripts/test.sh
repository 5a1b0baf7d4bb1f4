#!/usr/bin/env bash
# Set up and run the whole test suite on a fresh machine (CI calls exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements-dev.txt
# olah, the Hub server the tests start themselves, in its own venv (its pins differ from ours: requirements-olah.txt)
if [ ! -x .olah-venv/bin/olah-cli ]; then
  python -m venv .olah-venv && .olah-venv/bin/pip install -q -r requirements-olah.txt
fi
# The browser tests drive Debian's chromium through Playwright; install it if missing (root only).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "chromium not found: install Debian's chromium (apt-get install chromium)" >&2
  fi
fi
python -m ruff check .
# torch threads spin-wait when a core is busy; passive waiting keeps a shared 2-core machine usable.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
python -m pytest -q "$@"
