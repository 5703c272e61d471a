#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv with the exact
# versions of constraints.txt. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "envcorr setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
echo "envcorr setup: installing envcorr and its pinned dependencies into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c constraints.txt -e ".[dev]"
echo "envcorr setup: ready (.venv/bin/envcorr)"
