#!/usr/bin/env bash
# Publish the Colab edition (what `bash book/build.sh` wrote to _build/colab) to the branch `colab.branch`
# of _config.yml, where the chapters' "Open in Colab" badges and the book's Colab button open it, and
# make sure the release tag `colab.kit_ref` that the setup cells install exists and holds this kit.
# Run by .github/workflows/book.yml in a full clone (tags fetched), with GH_TOKEN allowed to push:
#
#   bash book/publish_colab.sh EDITION_DIR [REMOTE]
#
# REMOTE defaults to the workflow's repository. The branch is replaced by one commit holding
# EDITION_DIR (instructor/, student/, README.md). The tag: created at HEAD when it does not exist; when
# it exists but the package (attnlab/, pyproject.toml) differs from HEAD, the setup cells would install
# another kit than the one the book was built with, so this fails: bump attnlab.__version__ and
# colab.kit_ref together (tests/test_repository.py checks they agree).
set -euo pipefail
edition="$(cd "${1:?usage: bash book/publish_colab.sh EDITION_DIR [REMOTE]}" && pwd)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
remote="${2:-https://x-access-token:${GH_TOKEN:?GH_TOKEN must be set}@github.com/${GITHUB_REPOSITORY:?}.git}"

# The `colab:` block of _config.yml (two plain `key: value` lines; tests/test_repository.py keeps it so).
setting() { sed -n '/^colab:/,/^[^ #]/p' _config.yml | sed -n "s/^  $1: *\([^ #]*\).*/\1/p"; }
branch="$(setting branch)"
ref="$(setting kit_ref)"
version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' attnlab/__init__.py)"
[ -n "$branch" ] && [ -n "$ref" ] || { echo "_config.yml lacks colab.branch or colab.kit_ref" >&2; exit 1; }
if [ "$ref" != "v$version" ]; then
  echo "colab.kit_ref ($ref) is not v + attnlab.__version__ ($version)" >&2
  exit 1
fi

if git rev-parse -q --verify "refs/tags/$ref" >/dev/null; then
  if ! git diff --quiet "$ref" HEAD -- attnlab pyproject.toml; then
    echo "::error::the kit changed since the tag $ref: the setup cells would install the old kit." \
         "Bump attnlab.__version__ and colab.kit_ref in _config.yml (and the notebooks' setup cells)." >&2
    exit 1
  fi
  echo "The tag $ref holds this kit."
else
  git tag "$ref" HEAD
  git push "$remote" "refs/tags/$ref"
  echo "Tagged $(git rev-parse --short HEAD) as $ref."
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -R "$edition"/. "$work"/
source_commit="$(git rev-parse HEAD)"
cd "$work"
git init -q -b "$branch"
git add -A
git -c user.name="attnlab book workflow" -c user.email="actions@users.noreply.github.com" \
  commit -q -m "Colab edition built from $source_commit (kit $ref)"
git push -q --force "$remote" "HEAD:refs/heads/$branch"
echo "Published the Colab edition to the branch $branch."
