# Sourced by scripts/serve, scripts/test, scripts/run and scripts/shien: makes sure uv and the locked
# environment exist, then works from the repository's directory.
# Works on a fresh machine with only python3 and its pip (uv comes from PyPI).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
  echo "uv をインストールしています…" >&2
  # --user: into ~/.local/bin. Debian's and Ubuntu's own Python refuse that (PEP 668) unless told
  # --break-system-packages; uv is one self-contained program and changes no package of the system.
  python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages uv 2>/dev/null \
    || {
      echo "uv を導入できませんでした。python3 -m pip が使えるか確かめるか（Debian・Ubuntu では" \
        "sudo apt-get install python3-pip）、https://docs.astral.sh/uv/ の手順で uv を導入してください" >&2
      exit 1
    }
  PATH="$(python3 -m site --user-base)/bin:$PATH"  # ~/.local/bin on Linux, elsewhere on macOS
  export PATH
  hash -r
fi
# compiled bytecode: some environments set PYTHONDONTWRITEBYTECODE, and every start would recompile
UV_COMPILE_BYTECODE=1 uv sync --frozen --quiet
