#!/usr/bin/env bash
# The GitHub environment CD deploys through ("production"), limited to main and v… tags: a job
# running from any other branch or tag cannot reach its secrets (EC2_SSH_KEY, PRODUCTION_ENV).
# Run once per repository, by an admin, with the GitHub CLI logged in (`gh auth login`).
#
#   deploy/github_environment.sh OWNER/REPO [ENVIRONMENT]
#
# Idempotent: the environment is created or updated, and the two policies added when missing.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 OWNER/REPO [ENVIRONMENT]" >&2; exit 2; }
repo=$1 environment=${2:-production}
[[ "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || { echo "github-environment: '$repo' is not OWNER/REPO" >&2; exit 2; }
[[ "$environment" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "github-environment: '$environment' is not a name" >&2; exit 2; }
api=(gh api -H "Accept: application/vnd.github+json" -H "X-GitHub-Api-Version: 2022-11-28")
base="repos/$repo/environments/$environment"

"${api[@]}" --method PUT "$base" --input - >/dev/null <<'JSON'
{"deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}}
JSON
existing="$("${api[@]}" "$base/deployment-branch-policies" --jq '.branch_policies[] | "\(.type) \(.name)"')"
for policy in "branch main" "tag v*"; do
  if grep -qxF "$policy" <<< "$existing"; then
    continue
  fi
  "${api[@]}" --method POST "$base/deployment-branch-policies" \
    -f "type=${policy%% *}" -f "name=${policy#* }" >/dev/null
done
echo "github-environment: $environment on $repo admits main and v* tags only"
