# Sourced by scripts/*: creates or updates .venv from pyproject.toml.
# Usage: ensure_venv "<pip install target>" ["--group dev"]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

ensure_venv() {
  local target="$1" extra="${2:-}"
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python 3.11+ is required (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 2
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  # Reinstall only when pyproject.toml or the requested set changed.
  local stamp="$VENV/.install-stamp" want
  want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16) $target $extra"
  if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip>=25.1" 2>&1 | grep -v "is ignored" >&2 || true
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT$target" $extra 2>&1 | grep -v "is ignored" >&2 || true
    "$VENV/bin/python" -c "import lexigram_compat" || { echo "error: installing lexigram-compat into .venv failed" >&2; exit 2; }
    echo "$want" >> "$stamp"
  fi
}
