#!/usr/bin/env bash
# Install, migrate, load the demo city when the database is empty, print one login per
# role and serve http://127.0.0.1:8000 — on the embedded SQLite database under var/.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(./scripts/bootstrap.sh)
exec "$py" -m grassroots.cli demo "$@"
