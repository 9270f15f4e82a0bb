#!/usr/bin/env bash
# Creates (or refreshes) the two virtual environments from the lock files:
#   .venv/app     the machine's python3 (3.10+): gateway, channels, tests
#   .venv/engine  Python 3.10: Rasa 3.6 server, action server, our NLU components
# Idempotent: a stamp per environment records which lock file it was built from.
# Bytecode is compiled at install time: with PYTHONDONTWRITEBYTECODE set (as on our CI machine)
# Python would otherwise compile TensorFlow's sources again at every start of Rasa, about a third
# of its cold start (py-spy, docs/performance.md).
set -euo pipefail
SELF="$(realpath "$0")"
cd "$(dirname "$SELF")/.."

find_python310() {
  local candidates=()
  [ -n "${PYTHON310:-}" ] && candidates+=("$PYTHON310")
  candidates+=(python3.10)
  if command -v pyenv >/dev/null 2>&1; then
    for v in "$(pyenv root)"/versions/3.10.*; do candidates+=("$v/bin/python"); done
  fi
  for c in "${candidates[@]}"; do
    if "$c" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
      command -v "$c" 2>/dev/null || echo "$c"
      return 0
    fi
  done
  if [ -x .venv/app/bin/uv ] && .venv/app/bin/uv python find 3.10 >/dev/null 2>&1; then
    .venv/app/bin/uv python find 3.10
    return 0
  fi
  return 1
}

stamp() {  # what an environment is built from: its lock file, pyproject.toml and this script
  cat "$1" pyproject.toml "$SELF" | sha256sum
}

stamp_ok() {  # stamp_ok ENV LOCK: true when ENV was built from exactly these
  [ -f "$1/.lock-stamp" ] && [ "$(cat "$1/.lock-stamp")" = "$(stamp "$2")" ]
}

if ! stamp_ok .venv/app requirements/app.lock; then
  echo ">> app environment (.venv/app)" >&2
  PY3="${PYTHON3:-python3}"
  "$PY3" -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ needed"'
  [ -x .venv/app/bin/python ] || "$PY3" -m venv .venv/app
  .venv/app/bin/python -m pip install -q --disable-pip-version-check "uv>=0.5"
  .venv/app/bin/uv pip sync -q --compile-bytecode --python .venv/app/bin/python requirements/app.lock
  .venv/app/bin/uv pip install -q --python .venv/app/bin/python --no-deps -e .
  stamp requirements/app.lock > .venv/app/.lock-stamp
fi

if ! stamp_ok .venv/engine requirements/engine.lock; then
  echo ">> engine environment (.venv/engine, Python 3.10)" >&2
  if ! PY310="$(find_python310)"; then
    cat >&2 <<'MSG'
No Python 3.10 found. Rasa 3.6 runs only on Python 3.8-3.10. Get one of:
  - pyenv install 3.10.13            (then re-run; pyenv's versions are found automatically)
  - .venv/app/bin/uv python install 3.10
  - or point PYTHON310 at an interpreter: PYTHON310=/path/to/python3.10 make run
MSG
    exit 1
  fi
  [ -x .venv/engine/bin/python ] || .venv/app/bin/uv venv -q --python "$PY310" .venv/engine
  .venv/app/bin/uv pip sync -q --compile-bytecode --python .venv/engine/bin/python requirements/engine.lock
  .venv/app/bin/uv pip install -q --python .venv/engine/bin/python --no-deps -e .
  stamp requirements/engine.lock > .venv/engine/.lock-stamp
fi
