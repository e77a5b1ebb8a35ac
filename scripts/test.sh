#!/usr/bin/env bash
# Install the project with its test tools, make sure a headless Chromium is present for
# the browser tests (Debian's package; Playwright never downloads a browser), then lint
# and run the whole suite. DATABASE_URL selects PostgreSQL; the default is SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(./scripts/bootstrap.sh "[test]")
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "安装 Chromium（浏览器测试需要）…" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  else
    echo "浏览器测试需要 Chromium：sudo apt-get install chromium，或设置 CHROMIUM_PATH" >&2
    exit 1
  fi
fi
bin=$(dirname "$py")
"$bin/ruff" check grassroots tests bench
exec "$py" -m pytest "$@"
