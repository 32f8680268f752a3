#!/usr/bin/env bash
# Set up the environment and run the tests: unit tests of attnlab, repository checks, and every
# notebook of _toc.yml executed by papermill in smoke mode, spread over the machine's cores. Extra
# arguments go to pytest; when they name test files or folders, only those run (e.g.
# `bash tests/run.sh tests/test_data.py`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash book/setup_env.sh
venv="${ATTNLAB_VENV:-$root/.venv}"
export TQDM_DISABLE=1
export JUPYTER_PREFER_ENV_PATH=1
targets=(tests)
for arg in "$@"; do
  if [ -e "${arg%%::*}" ]; then targets=(); break; fi
done
# One pytest worker per core (pytest-xdist; ATTNLAB_JOBS=N for N workers, 0 for none); an idle worker
# takes queued tests from a busy one (worksteal), so the long smoke notebooks do not leave a core idle.
exec "$venv/bin/python" -m pytest -n "${ATTNLAB_JOBS:-auto}" --dist worksteal ${targets[@]+"${targets[@]}"} "$@"
