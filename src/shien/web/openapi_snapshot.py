"""Write or check docs/openapi.json, the committed copy of the API schema (CI diffs it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def current() -> str:
    import django

    django.setup()
    from shien.web.api import api

    schema = json.loads(json.dumps(api.get_openapi_schema()))  # int status keys become strings
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main() -> int:
    text = current()
    if "--check" in sys.argv:
        if not SNAPSHOT.exists() or SNAPSHOT.read_text(encoding="utf-8") != text:
            print(
                "docs/openapi.json が現在の API と異なります。`uv run python -m shien.web.openapi_snapshot` で更新し、差分を確認してください。",
                file=sys.stderr,
            )
            return 1
        return 0
    SNAPSHOT.write_text(text, encoding="utf-8")
    print(f"更新しました: {SNAPSHOT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
