#!/usr/bin/env bash
# Write .env with fresh random secrets, once (an existing .env is kept). For local use and CI;
# a deployment brings its own env file (see README, "Deploy to EC2").
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .env ]; then
  echo ".env exists: kept"
  exit 0
fi
secret() { python3 -c "import secrets; print(secrets.token_urlsafe(24))"; }
umask 077
{
  echo "POSTGRES_PASSWORD=$(secret)"
  echo "S3_ACCESS_KEY=housing$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
  echo "S3_SECRET_KEY=$(secret)"
  echo "GATEWAY_API_KEYS=$(secret)"
} > .env
echo ".env written with fresh secrets"
