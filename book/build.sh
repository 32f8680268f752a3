#!/usr/bin/env bash
# Set up the environment and build the executed book into _build/html.
# Every notebook is executed from scratch, one process per core (book/execute.py); any cell error or
# Sphinx warning fails the build.
#
#   bash book/build.sh             the book with exercise solutions (instructor edition) -> _build/html,
#                                  and the Colab edition (instructor and student flavours) -> _build/colab
#   bash book/build.sh --student   the student edition, solution cells removed -> _build/student/html,
#                                  and the student notebooks -> _build/student/notebooks. It is made from
#                                  the notebooks executed by the last `bash book/build.sh` (executing
#                                  only those whose code changed since), not by executing them again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
edition="instructor"
case "${1:-}" in
  "") ;;
  --student) edition="student" ;;
  *) echo "usage: bash book/build.sh [--student]" >&2; exit 2 ;;
esac
bash book/setup_env.sh
venv="${ATTNLAB_VENV:-$root/.venv}"
export TQDM_DISABLE=1            # no progress bars in the built pages
export JUPYTER_PREFER_ENV_PATH=1 # execute with the environment's own Jupyter kernel
if [ "$edition" = "instructor" ]; then
  "$venv/bin/python" book/execute.py
  # The Colab edition, both flavours, from the notebooks just executed (book/colab_edition.py).
  "$venv/bin/python" book/colab_edition.py "$root/_build/colab"
  "$venv/bin/jupyter-book" build "$root" --all -W --keep-going
  echo "The book is in $root/_build/html (open _build/html/index.html); the Colab edition in $root/_build/colab."
  exit 0
fi
out="$root/_build/student"
"$venv/bin/python" book/execute.py --reuse
# The staged chapters carry the executed outputs (solutions and their outputs removed); the student
# build renders them as they are and executes only the scorecard and claims pages, on a copy of the
# results without the numbers and claims of the solution cells.
"$venv/bin/python" book/student_edition.py "$out/src" --notebooks "$out/notebooks" --results "$out/results"
export ATTNLAB_RESULTS_DIR="$out/results"
"$venv/bin/jupyter-book" build "$out/src" --all -W --keep-going
rm -rf "$out/html"
mv "$out/src/_build/html" "$out/html"
echo "The student edition is in $out/html (open index.html); student notebooks in $out/notebooks."
