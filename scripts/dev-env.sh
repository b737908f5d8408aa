#!/usr/bin/env bash
# Give .env a fresh random value for every secret the stack needs that it lacks (an existing value
# is kept: the database was created with it), then write the secrets as files into ./secrets, which
# compose mounts into the services. For local use and CI; a deployment brings its own env file
# (see README, "Deploy to EC2").
set -euo pipefail
cd "$(dirname "$0")/.."
secret() { python3 -c "import secrets; print(secrets.token_urlsafe(24))"; }
umask 077
touch .env
[ -s .env ] && [ -n "$(tail -c1 .env)" ] && echo >> .env  # end the last line first
added=()
while read -r name; do
  if ! grep -q "^${name}=." .env; then
    if [ "$name" = S3_ACCESS_KEY ]; then
      value="housing$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
    else
      value="$(secret)"
    fi
    echo "${name}=${value}" >> .env
    added+=("$name")
  fi
done < <(scripts/secret-files.sh --names)
if [ ${#added[@]} -eq 0 ]; then
  echo ".env has every secret: kept"
else
  echo ".env: fresh ${added[*]}"
fi
scripts/secret-files.sh .env secrets
