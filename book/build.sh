#!/usr/bin/env bash
# Set up the environment and build the executed book into _build/html.
# Every notebook is executed from scratch; any cell error or Sphinx warning fails the build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash book/setup_env.sh
venv="${ATTNLAB_VENV:-$root/.venv}"
export TQDM_DISABLE=1            # no progress bars in the built pages
export JUPYTER_PREFER_ENV_PATH=1 # execute with the environment's own Jupyter kernel
"$venv/bin/jupyter-book" build "$root" --all -W --keep-going
echo "The book is in $root/_build/html (open _build/html/index.html)."
