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
            "2件目 business.industry（業種）: 次のいずれかを指定してください",
        ),
        (  # JSON Lines: the line in the file, counted from 1 as an editor and `shien screen` do
            '{"business": {"industry": "製造業", "employees": 1}}\n\n{"business": {"industry": "製造業"}}\n',
            [],
            "3行目 business.employees（常時使用する従業員数）: 必須項目です",
        ),
        ("[1]", [], "1件目 (入力全体): JSONオブジェクト（{ ... }）を指定してください"),
        ('{"business": 1}', [], "business（事業者）: オブジェクト（{ ... }）を指定してください"),
        (
            '{"business": {"industry": "製造業", "employees": 1}, "plan": {"expenses": [1]}}',
            [],
            "plan.expenses[0]（経費）: オブジェクト（{ ... }）を指定してください",
        ),
        (
            '{"business": {"industry": "製造業", "employees": 1, "applied_rounds": ["nope/1"]}}',
            [],
            "公募回「nope/1」はありません。制度ID/回（例: monozukuri/17）で指定してください",
        ),
        (
            '{"as_of": "0001-01-01", "business": {"industry": "製造業", "employees": 1}}',
            [],
            "as_of（判定日時）: 判定日時は2000年1月1日から2100年12月31日までの日時を指定してください",
        ),
        (
            '{"business": {"industry": "製造業", "employees": 1}}',
            ["--as-of", "0003-01-01"],
            "--as-of: 判定日時は2000年1月1日から2100年12月31日までの日時を指定してください",
        ),
        (
            '{"business": {"industry": "製造業", "employees": 1, "deficit": "たぶん"}}',
            [],
            "business.deficit（赤字（直近1期の課税所得金額が0以下））: true または false（はい／いいえ",
        ),
        (
            '{"id": "\\ud800", "business": {"industry": "製造業", "employees": 1}}',
            [],
            "id（識別子）: 文字として",
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


@pytest.mark.parametrize(
    ("word", "value"), [("はい", True), ("いいえ", False), ("ＹＥＳ", True), ("0", False)]
)
def test_yes_no_words_are_the_csv_vocabulary(word: str, value: bool) -> None:
    """JSON takes the same はい／いいえ words as a `shien screen` column (one vocabulary)."""
    from shien.rules.schema import Profile
    from shien.rules.vocab import FALSE_WORDS, TRUE_WORDS

    profile = json.loads(json.dumps(EXAMPLE))
    profile["business"]["deficit"] = word
    assert Profile.model_validate(profile).business.deficit is value
    for known in (*TRUE_WORDS, *FALSE_WORDS):
        profile["business"]["deficit"] = known
        assert Profile.model_validate(profile).business.deficit is (known in TRUE_WORDS)
    code, out, _ = run(["estimate", "-", "--json"], json.dumps(profile))
    assert code == 0 and json.loads(out)["results"]


def test_as_of_at_the_edges_of_the_supported_years() -> None:
    for as_of in ("2000-01-01T00:00:00+14:00", "2100-12-31T23:59:59-12:00"):
        code, out, err = run(["estimate", "-", "--json", "--as-of", as_of], json.dumps(EXAMPLE))
        assert code == 0 and "Error" not in err and json.loads(out)["results"]


@pytest.mark.parametrize("command", ["screen", "programs"])
def test_as_of_outside_the_supported_years_is_a_japanese_error(command: str, tmp_path: Path) -> None:
    files = [str(tmp_path / "in.csv"), str(tmp_path / "out.csv")] if command == "screen" else []
    (tmp_path / "in.csv").write_text("industry,employees\n製造業,3\n", encoding="utf-8")
    code, out, err = run([command, *files, "--as-of", "0001-01-01"])
    assert code == 2 and out == ""
    assert "--as-of: 判定日時は2000年1月1日から2100年12月31日までの日時を指定してください" in err


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


# -- help and errors of the command line are Japanese ------------------------------------------------

ARGPARSE_ENGLISH = (
    "usage:",
    "options:",
    "positional arguments",
    "show this help message",
    "error:",
    "the following arguments are required",
    "invalid choice",
    "invalid int value",
    "unrecognized arguments",
    "expected one argument",
)


@pytest.mark.parametrize("command", [[], ["estimate"], ["programs"], ["screen"], ["serve"]])
def test_help_is_japanese(command: list[str]) -> None:
    code, out, err = run([*command, "--help"])
    assert code == 0 and err == ""
    assert out.startswith("使い方: shien")
    assert "-h, --help" in out and "この説明を表示して終了します" in out
    assert "オプション:" in out
    assert not [english for english in ARGPARSE_ENGLISH if english in out]


def test_help_columns_line_up_with_full_width_text() -> None:
    _, out, _ = run(["screen", "--help"])
    from shien.cli_parser import width

    rows = [
        line
        for line in out.splitlines()
        if line.startswith("  入力ファイル") or line.startswith("  -h, --help")
    ]
    starts = {
        width(row[: row.index(text)]) for row, text in zip(rows, ["入力ファイル（", "この説明"], strict=True)
    }
    assert len(rows) == 2 and len(starts) == 1  # the help texts start in the same column


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["screen"], "エラー: 次の引数を指定してください: 入力ファイル, 出力ファイル"),
        (
            ["estimat"],
            "エラー: コマンド: 指定できない値です: 'estimat'（estimate, programs, screen, serve, manage のいずれかを指定してください）",
        ),
        (["serve", "--port", "abc"], "エラー: --port: 整数を指定してください（'abc'）"),
        (["serve", "--port", "70000"], "エラー: --port: 1〜65535の整数を指定してください（'70000'）"),
        (
            ["screen", "a.csv", "b.csv", "--workers", "0"],
            "エラー: --workers: 1〜256の整数を指定してください（'0'）",
        ),
        (["programs", "--as-of"], "エラー: --as-of: 値を1つ指定してください"),
        (["programs", "--bogus"], "エラー: 不明な引数です: --bogus"),
    ],
)
def test_argument_errors_are_japanese_and_exit_2(args: list[str], message: str) -> None:
    code, out, err = run(args)
    assert code == 2 and out == ""
    assert err.startswith("使い方: shien")
    assert message in err.splitlines()
    assert "--help` を参照してください" in err
    assert not [english for english in ARGPARSE_ENGLISH if english in err]


def test_shien_alone_shows_the_commands_and_exits_2() -> None:
    code, out, err = run([])
    assert code == 2 and out == ""
    assert "コマンド:" in err and "screen" in err and "manage" in err


def test_manage_alone_gives_japanese_guidance() -> None:
    code, out, err = run(["manage"])
    assert code == 2 and out == ""
    assert "使い方: shien manage <コマンド>" in err and "send_reminders" in err
    assert "エラー: コマンドを指定してください" in err
    code, out, err = run(["manage", "--help"])
    assert code == 0 and "使い方: shien manage <コマンド>" in out and err == ""


@pytest.mark.parametrize(
    ("english", "japanese"),
    [
        (
            "ambiguous option: --w could match --workers, --with",
            "オプション --w は複数に当てはまります（--workers, --with）。省略せずに指定してください",
        ),
        ("argument --x: expected at least one argument", "--x: 値を1つ以上指定してください"),
        ("argument --x: not allowed with argument --y", "--x と --y は同時に指定できません"),
        ("one of the arguments --a --b is required", "次のいずれかを指定してください: --a --b"),
        ("argument --n: invalid float value: 'x'", "--n: 数値を指定してください（'x'）"),
        (
            "argument --c: invalid choice: 'z' (choose from a, b)",
            "--c: 指定できない値です: 'z'（a, b のいずれかを指定してください）",
        ),
    ],
)
def test_every_argparse_message_has_a_translation(english: str, japanese: str) -> None:
    from shien.cli_parser import translate

    assert translate(english) == japanese


def test_no_round_open_is_said_by_estimate_on_stderr() -> None:
    late = dict(EXAMPLE, as_of="2031-01-06T09:00:00+09:00")
    code, out, err = run(["estimate", "-", "--json"], json.dumps(late))
    assert code == 0 and json.loads(out)["results"]  # standard output stays JSON
    assert "令和13年1月6日(月)（2031-01-06）に受付中の公募回はありません" in err
    assert "--as-of" not in err  # the date was chosen in the profile
    code, _, err = run(["estimate", "-", "--json"], json.dumps(EXAMPLE))
    assert code == 0 and err == ""
