"""`shien estimate` and `shien programs` as a user runs them."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shien.cli import main
from shien.rules.examples import EXAMPLE_PROFILE

EXAMPLE = EXAMPLE_PROFILE


def run(
    args: list[str], stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.stdin, sys.stdout, sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def test_single_profile_gives_a_single_object_with_every_frame() -> None:
    code, out, err = run(["estimate", "-", "--json"], json.dumps(EXAMPLE))
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["as_of"] == "2024-03-20T10:00:00+09:00"
    keys = {(r["program"], r["frame"]) for r in doc["results"]}
    assert ("monozukuri", "shoryokuka") in keys and ("digital_amoeba", "membership") in keys
    shoryokuka = next(
        r for r in doc["results"] if r["frame"] == "shoryokuka" and r["program"] == "monozukuri"
    )
    assert shoryokuka["subsidy_yen"] == 25_000_000
    assert shoryokuka["round"] == {
        "id": "18",
        "name": "18次公募（全枠）",
        "accepting": True,
        "acceptance_start": "2024-03-11T17:00:00+09:00",
        "acceptance_end": "2024-03-27T17:00:00+09:00",
        "status": "verified",
        "reference": shoryokuka["round"]["reference"],
        "project_end": "2024-12-10",
    }
    assert shoryokuka["contact"]["phone"] == "082-224-5680"


def test_array_and_json_lines_keep_input_order(tmp_path: Path) -> None:
    small = json.loads(json.dumps(EXAMPLE))
    small["id"] = "small"
    small["business"]["employees"] = 3
    big = dict(EXAMPLE, id="big")
    code, out, _ = run(["estimate", "-", "--json"], json.dumps([big, small]))
    assert code == 0 and [d["id"] for d in json.loads(out)] == ["big", "small"]
    lines = tmp_path / "p.jsonl"
    lines.write_text(
        json.dumps(small, ensure_ascii=False) + "\n\n" + json.dumps(big) + "\n", encoding="utf-8"
    )
    code, out, _ = run(["estimate", str(lines), "--json"])
    assert code == 0 and [d["id"] for d in json.loads(out)] == ["small", "big"]


def test_as_of_option_overrides_the_profile() -> None:
    code, out, _ = run(
        ["estimate", "-", "--json", "--as-of", "2024-03-27T17:00:01+09:00"], json.dumps(EXAMPLE)
    )
    doc = json.loads(out)
    shoryokuka = next(
        r for r in doc["results"] if r["frame"] == "shoryokuka" and r["program"] == "monozukuri"
    )
    assert code == 0 and shoryokuka["round"]["accepting"] is False


@pytest.mark.parametrize(
    ("stdin", "args", "fragment"),
    [
        ("", [], "入力が空です"),
        ("{", [], "JSONとして読めません"),
        (
            '{"business": {"industry": "製造業"}}',
            [],
            "business.employees（常時使用する従業員数）: 必須項目です",
        ),
        (
            '[{"business": {"industry": "製造業", "employees": 1}}, {"business": {"industry": "x", "employees": 1}}]',
            [],
            "[1].business.industry（業種）: 次のいずれかを指定してください",
        ),
        (
            '{"business": {"industry": "製造業", "employees": 1}, "plan": {"expenses": [{"category": "machinery", "amount_yen": 1.5}]}}',
            [],
            "plan.expenses[0].amount_yen（金額（税抜・円））: 整数を指定してください",
        ),
        ('{"business": {"industry": "製造業", "employees": 1}}', ["--as-of", "昨日"], "--as-of"),
        (
            '{"business": {"industry": "製造業", "employees": 1, "emploees": 2}}',
            [],
            "business.emploees: 定義されていない項目です",
        ),
        ("42", [], "JSONオブジェクト、配列"),
    ],
)
def test_bad_input_exits_2_with_a_japanese_message_and_no_output(
    stdin: str, args: list[str], fragment: str
) -> None:
    code, out, err = run(["estimate", "-", "--json", *args], stdin)
    assert code == 2
    assert out == ""
    assert fragment in err


def test_missing_file() -> None:
    code, out, err = run(["estimate", "/nonexistent.json"])
    assert code == 2 and out == "" and "ファイルが見つかりません" in err


def test_table_output_is_japanese_and_shows_wareki() -> None:
    code, out, _ = run(["estimate", "-"], json.dumps(EXAMPLE))
    assert code == 0
    assert "令和6年3月27日(水) 17:00（2024-03-27）" in out
    assert "25,000,000円" in out and "対象外の理由" in out


def test_programs_lists_every_program_frame_and_round() -> None:
    code, out, _ = run(["programs", "--json", "--as-of", "2024-03-20T10:00"])
    data: list[dict[str, Any]] = json.loads(out)
    assert code == 0
    assert [p["id"] for p in data] == [
        "monozukuri",
        "jizokuka",
        "it_donyu",
        "jigyo_shokei",
        "case_mobility",
        "manabi_dx",
        "shoryokuka",
        "digital_amoeba",
    ]
    frames = {p["id"]: [f["id"] for f in p["frames"]] for p in data}
    assert frames["it_donyu"] == ["tsujo", "invoice", "denshi_torihiki", "fukusu", "security"]
    code, out, _ = run(["programs"])
    assert code == 0 and "ものづくり補助金" in out


def test_console_script_is_installed() -> None:
    result = subprocess.run(["shien", "--help"], capture_output=True, text=True, check=False)  # noqa: S607
    assert result.returncode == 0 and "estimate" in result.stdout


def test_serve_links_emails_to_its_own_port(monkeypatch: pytest.MonkeyPatch) -> None:
    import django.core.management

    import shien.web.server

    started: dict[str, Any] = {}
    monkeypatch.delenv("SITE_URL", raising=False)
    monkeypatch.setattr(django.core.management, "call_command", lambda *a, **k: None)
    monkeypatch.setattr(shien.web.server, "serve", lambda **kw: started.update(kw))
    assert main(["serve", "--port", "8100"]) == 0
    import os

    assert started["port"] == 8100 and os.environ["SITE_URL"] == "http://127.0.0.1:8100"
    monkeypatch.setenv("SITE_URL", "https://shien.example.jp")
    main(["serve", "--port", "8101"])
    assert os.environ["SITE_URL"] == "https://shien.example.jp"  # the deployment's own address stays
