# Sourced by scripts/serve and scripts/test: makes sure uv and the locked environment exist.
# Works on a fresh machine with only python3 (uv comes from PyPI).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
  echo "uv をインストールしています…" >&2
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  hash -r
fi
# compiled bytecode: some environments set PYTHONDONTWRITEBYTECODE, and every start would recompile
UV_COMPILE_BYTECODE=1 uv sync --frozen --quiet
