#!/usr/bin/env bash
# Whether a commit that CI passed may be released: CD's gate (.github/workflows/cd.yml).
#
#   deploy/release_gate.sh SHA REF [MAIN]
#
# REF is what CI ran on: `main` (a push to main) or a tag (a push of `v…`). A commit is released
# only when it is on MAIN (default origin/main, fetched whole): a push to main, or a `v…` tag
# that points at SHA and whose commit is on main. A tag on a branch that never reached main is
# refused, however green its CI. Prints `release=` (the tag, or nothing for main) for
# $GITHUB_OUTPUT; exit 1, with one line why, when the commit may not be released.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 SHA REF [MAIN]" >&2; exit 2; }
sha=$1 ref=$2 main=${3:-origin/main}
refuse() { echo "release gate: $*" >&2; exit 1; }

[[ "$sha" =~ ^[0-9a-f]{40}$ ]] || refuse "'$sha' is not a commit id"
git rev-parse --verify --quiet "$main^{commit}" >/dev/null || refuse "$main is not fetched"
git merge-base --is-ancestor "$sha" "$main" 2>/dev/null \
  || refuse "$sha is not on $main: only main's commits are released"
if [ "$ref" = main ]; then
  echo "release="
  exit 0
fi
[[ "$ref" =~ ^v[0-9][A-Za-z0-9._-]{0,62}$ ]] || refuse "'$ref' is neither main nor a v… tag"
tagged="$(git rev-parse --verify --quiet "refs/tags/$ref^{commit}")" \
  || refuse "no tag $ref here (fetch the tags)"
[ "$tagged" = "$sha" ] || refuse "the tag $ref points at $tagged, CI ran on $sha"
echo "release=$ref"
