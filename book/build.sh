#!/usr/bin/env bash
# Set up the environment and build the executed book into _build/html.
# Every notebook is executed from scratch; any cell error or Sphinx warning fails the build.
#
#   bash book/build.sh             the book with exercise solutions (instructor edition) -> _build/html
#   bash book/build.sh --student   the student edition, solution cells removed -> _build/student/html,
#                                  and the student notebooks -> _build/student/notebooks
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
  "$venv/bin/jupyter-book" build "$root" --all -W --keep-going
  echo "The book is in $root/_build/html (open _build/html/index.html)."
  exit 0
fi
out="$root/_build/student"
"$venv/bin/python" book/student_edition.py "$out/src" --notebooks "$out/notebooks"
# The student build writes its chapters' results beside it, leaving results/ to the main build.
export ATTNLAB_RESULTS_DIR="$out/results"
"$venv/bin/jupyter-book" build "$out/src" --all -W --keep-going
rm -rf "$out/html"
mv "$out/src/_build/html" "$out/html"
echo "The student edition is in $out/html (open index.html); student notebooks in $out/notebooks."
