#!/usr/bin/env bash
# Install, migrate, load the demo city when the database is empty, print one login per role and
# serve http://127.0.0.1:8000 (or --addr HOST:PORT) through gunicorn with one `grassroots worker`
# beside it — on the embedded SQLite database under var/.
# The demo runs as a deployment would (DEBUG off, a secret key of its own, gunicorn, static files
# through whitenoise from the installed packages), over plain HTTP. Everything under var/ is
# readable by this account only.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(./scripts/bootstrap.sh)
umask 077
mkdir -p var
chmod 700 var
if [ ! -s var/secret_key ]; then
  "$py" -c 'import secrets; print(secrets.token_urlsafe(50))' > var/secret_key
  chmod 600 var/secret_key
fi
# The key that seals ID numbers and phones (grassroots/lib/privacy.py), kept apart from the secret
# key and never in a backup. A demo database made before it existed was sealed under a key
# derived from the secret key: that one becomes the file's content, so nothing becomes unreadable.
if [ ! -s var/privacy_key ]; then
  if [ -s var/grassroots.sqlite3 ]; then
    printf 'ledger-derived:%s\n' "$(cat var/secret_key)" > var/privacy_key
  else
    "$py" -c 'import secrets; print(secrets.token_urlsafe(48))' > var/privacy_key
  fi
  chmod 600 var/privacy_key
fi
export PRIVACY_KEY_FILE="${PRIVACY_KEY_FILE:-$PWD/var/privacy_key}"
export DEBUG="${DEBUG:-0}" SECRET_KEY_FILE="${SECRET_KEY_FILE:-$PWD/var/secret_key}"
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-127.0.0.1,localhost}" SECURE_COOKIES="${SECURE_COOKIES:-0}" STATIC_MANIFEST="${STATIC_MANIFEST:-0}"
exec "$py" -m grassroots.cli demo "$@"
