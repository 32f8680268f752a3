#!/usr/bin/env bash
# Set up the kit's Python environment: a virtual environment in .venv (or $ATTNLAB_VENV) holding
# PyTorch, the book tools and the attnlab package. Safe to run again: it only installs what changed.
#
# On a machine without an NVIDIA GPU it installs the CPU build of PyTorch first; a bare
# `pip install torch` on Linux pulls several GB of CUDA libraries. In Colab, use the first cell of a
# chapter instead: it installs the kit and keeps Colab's own PyTorch.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${ATTNLAB_VENV:-$root/.venv}"
# Another requirements file for the same setup (tests/floors.sh: every direct dependency at its floor).
requirements="${ATTNLAB_REQUIREMENTS:-$root/requirements.txt}"
python="${PYTHON:-python3}"
torch_version="2.13.0"

pip_install() {
  # pip's harmless notes about local package mirrors are filtered out; its exit status is kept.
  "$venv/bin/python" -m pip install --disable-pip-version-check "$@" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  return "${PIPESTATUS[0]}"
}

if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "attnlab needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)." >&2
    exit 1
  fi
  echo "Creating the virtual environment $venv"
  "$python" -m venv "$venv"
fi

stamp="$venv/.attnlab-installed"
wanted="$(cat "$requirements" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0  # already set up with these requirements
fi

if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "Installing PyTorch $torch_version (GPU build)"
    pip_install -q "torch==$torch_version"
  else
    echo "Installing PyTorch $torch_version (CPU build)"
    cpu_index="https://download.pytorch.org/whl/cpu"
    if "$venv/bin/python" -c "import urllib.request as u; u.urlopen('$cpu_index/torch/', timeout=10)" 2>/dev/null; then
      pip_install -q "torch==$torch_version" --extra-index-url "$cpu_index"
    else
      # PyTorch's own index is out of reach: rely on the configured package index (on the kit's
      # build machines it serves a local CPU wheel).
      pip_install -q "torch==$torch_version"
    fi
  fi
fi
echo "Installing the kit and its requirements"
# requirements.txt installs the kit itself with its extras (pyproject.toml lists every dependency once);
# pip reads its relative path from the repository's root.
(cd "$root" && pip_install -q -r "$requirements")
echo "$wanted" > "$stamp"
