"""`shien screen` agrees with `shien estimate` on every business (property), and reports bad files."""

from __future__ import annotations

import csv
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import Clock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shien import screening
from shien.cli import main
from shien.rules.columns import COLUMNS, profile_to_record
from shien.rules.engine import estimate
from shien.rules.errors import DomainError
from shien.rules.registry import JST
from shien.rules.schema import Profile
from shien.rules.tests.strategies import moments, profiles
from shien.tests.test_cli import run as run_cli


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(value) if value else "-"
    if isinstance(value, date | Decimal):
        return str(value)
    return str(value)


def write_csv(path: Path, docs: list[dict[str, Any]]) -> None:
    records = [profile_to_record(Profile.model_validate(d)) for d in docs]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        names = ["id"] + [c.name for c in COLUMNS]
        writer.writerow(names)
        for i, record in enumerate(records):
            writer.writerow([f"b{i}"] + [_cell(record.get(c.name)) for c in COLUMNS])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(profiles(with_as_of=False), min_size=1, max_size=12),
    moments(),
    st.sampled_from(["csv", "parquet"]),
)
def test_screen_equals_estimate(docs: list[dict[str, Any]], moment: Any, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "in.csv", Path(tmp) / f"out.{fmt}"
        write_csv(source, docs)
        if fmt == "parquet":
            parquet = Path(tmp) / "in.parquet"
            pq.write_table(pacsv.read_csv(source), parquet)
            source = parquet
        assert main(["screen", str(source), str(out), "--as-of", moment.isoformat(), "--workers", "2"]) == 0
        table = pq.read_table(out) if fmt == "parquet" else pacsv.read_csv(out)
        rows = table.to_pylist()
    documents = estimate([Profile.model_validate(d) for d in docs], as_of=moment)
    assert len(rows) == len(documents)
    for row, document in zip(rows, documents, strict=True):
        for r in document["results"]:
            if r["kind"] != "grant":
                continue
            prefix = f"{r['program']}.{r['frame']}"
            assert row[f"{prefix}.eligible"] == r["eligible"], prefix
            assert row[f"{prefix}.subsidy_yen"] == r["subsidy_yen"], prefix


def test_screen_writes_best_frame_and_keeps_ids(tmp_path: Path) -> None:
    doc = {
        "business": {
            "prefecture": "広島県",
            "industry": "製造業",
            "employees": 30,
            "capital_yen": 10_000_000,
        },
        "plan": {
            "purposes": ["labor_saving"],
            "expenses": [{"category": "machinery", "amount_yen": 60_000_000}],
        },
    }
    write_csv(tmp_path / "in.csv", [doc])
    assert (
        main(["screen", str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), "--as-of", "2024-03-20T10:00"])
        == 0
    )
    row = pacsv.read_csv(tmp_path / "out.csv").to_pylist()[0]
    assert row["id"] == "b0"
    assert row["best_frame"] == "monozukuri/shoryokuka"
    assert row["best_subsidy_yen"] == 25_000_000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "industry,employees\n製造業,abc\n",
            "2行目 employees（常時使用する従業員数）: 整数を指定してください（'abc'）",
        ),
        (
            "industry,employees\n製造業,-1\n",
            "2行目 employees（常時使用する従業員数）: 0以上の値を指定してください",
        ),
        ("industry,employees\n製造業,3\n鉄鋼業,3\n", "3行目 industry（業種）: 不明な値です（'鉄鋼業'）"),
        ("industry\n製造業\n", "employees（常時使用する従業員数）: 必須の列がありません"),
        ("industry,employees,employes\n製造業,3,4\n", "不明な列です: employes"),
        (
            "industry,employees,purposes\n製造業,3,labor_saving dxx\n",
            "2行目 purposes（取組の目的）: 不明な値です（'dxx'）",
        ),
        (
            "industry,employees,deficit\n製造業,3,maybe\n",
            "2行目 deficit（赤字）: true または false（はい／いいえ、yes／no、1／0 も可）を指定してください（'maybe'）",
        ),
        (
            "industry,employees,expense_machinery\n製造業,3,1.5\n",
            "2行目 expense_machinery（経費: 機械装置・システム構築費）: 整数を指定してください（'1.5'）",
        ),
        (
            "industry,employees\n製造業,3\n製造業,3,4\n",
            "3行目 列の数が見出しと違います（見出しは2列、この行は3列）",
        ),
        (
            "industry,employees,founded_on\n製造業,3,2020-02-30\n",
            "2行目 founded_on（創業日・設立日）: 日付は YYYY-MM-DD 形式で指定してください（'2020-02-30'）",
        ),
        (
            "industry,employees,value_added_cagr_pct\n製造業,3,3.5%\n",
            "2行目 value_added_cagr_pct（付加価値額の年平均成長率の計画（%））: 数値を指定してください（'3.5%'）",
        ),
        (
            "industry,employees\n製造業,99999999999999999999\n",
            "2行目 employees（常時使用する従業員数）: 整数を指定してください（'99999999999999999999'）",
        ),
        # a blank line and a value over two lines are lines of the file, as an editor shows them
        ('id,industry,employees\n\n"a\nb",製造業,3\nc,製造業,x\n', "5行目 employees"),
    ],
)
def test_bad_population_is_reported_in_japanese_with_line_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["screen", str(source), str(tmp_path / "out.csv")])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
    assert not (tmp_path / "out.csv").exists()


def test_missing_file_and_bad_format(tmp_path: Path) -> None:
    with pytest.raises(DomainError, match="ファイルが見つかりません"):
        screening.read_table(tmp_path / "nope.csv")
    (tmp_path / "x.xlsx").write_bytes(b"")
    with pytest.raises(DomainError, match="CSV"):
        screening.read_table(tmp_path / "x.xlsx")


def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path: Path) -> None:
    """The output in a folder that does not exist, an existing folder, or the input itself (which
    would be overwritten by the results): a Japanese error, exit 2, and the input left as it was."""
    source = tmp_path / "in.csv"
    write_csv(source, [{"business": {"industry": "製造業", "employees": 3}}])
    before = source.read_bytes()
    for output, words in [
        (tmp_path / "nope" / "out.csv", "フォルダがありません"),
        (tmp_path, "出力"),
        (source, "入力と同じファイル"),
    ]:
        code, out, err = run_cli(["screen", str(source), str(output), "--as-of", "2024-03-20"])
        assert code == 2 and out == "" and words in err and "Traceback" not in err, (output, err)
    code, _, err = run_cli(["screen", str(source), str(tmp_path / "o.csv"), "--errors", str(source)])
    assert code == 2 and "入力と同じファイル" in err
    assert source.read_bytes() == before


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("industry,employees\n小売業,3\n", encoding="utf-8")
    assert (
        main(["screen", str(tmp_path / "in.csv"), str(tmp_path / "out.parquet"), "--as-of", "2024-03-01"])
        == 0
    )
    row = pq.read_table(tmp_path / "out.parquet").to_pylist()[0]
    # nothing but industry and size is known: a small retailer may qualify, the amount is not known
    assert row["jizokuka.tsujo.eligible"] is True and row["jizokuka.tsujo.subsidy_yen"] == 0
    assert row["monozukuri.global.eligible"] is True and row["best_subsidy_yen"] == 0
    assert JST


BAD_FILE = (
    "id,industry,employees,deficit,founded_on\n"
    "a,製造業,abc,はい,2020-01-01\n"  # line 2: employees
    "b,製造業,3,maybe,2020-13-01\n"  # line 3: deficit and founded_on
    "\n"  # line 4: blank
    "c,鉄鋼業,3,no,\n"  # line 5: industry
    "d,小売業,3,4,5,6\n"  # line 6: one field too many
    "e,小売業,-1,,\n"  # line 7: below the minimum
    'f,製造業,"1,000",1,\n'  # line 8: good (Excel's thousands separator)
    "g,製造業,３０,0,\n"  # line 9: good (full-width digits)
)
BAD_LINES = [
    "2行目 employees（常時使用する従業員数）: 整数を指定してください（'abc'）",
    "3行目 deficit（赤字）: true または false（はい／いいえ、yes／no、1／0 も可）を指定してください（'maybe'）",
    "3行目 founded_on（創業日・設立日）: 日付は YYYY-MM-DD 形式で指定してください（'2020-13-01'）",
    "5行目 industry（業種）: 不明な値です（'鉄鋼業'）",
    "6行目 列の数が見出しと違います（見出しは5列、この行は6列）",
    "7行目 employees（常時使用する従業員数）: 0以上の値を指定してください（'-1'）",
]


def test_every_bad_row_is_reported_in_one_run_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(BAD_FILE, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["screen", str(source), str(tmp_path / "out.csv"), "--as-of", "2024-03-20"])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0] == "エラー: 入力に誤りがあります（5行・6か所）。出力ファイルは作成していません。"
    assert lines[1:7] == BAD_LINES  # in the order of the file
    assert "--errors" in lines[7]
    assert "Row #" not in captured.err and "CSV" not in captured.err.replace("CSV UTF-8", "")
    assert not (tmp_path / "out.csv").exists()


def test_errors_option_judges_the_good_rows_and_writes_the_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out, errors = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "errors.csv"
    source.write_text(BAD_FILE, encoding="utf-8")
    code = main(["screen", str(source), str(out), "--as-of", "2024-03-20", "--errors", str(errors)])
    assert code == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "2件を判定しました" in captured.err
    assert "誤りのある5行（6か所）は判定せず" in captured.err
    rows = pacsv.read_csv(out).to_pylist()
    assert [r["id"] for r in rows] == ["f", "g"]
    raw = errors.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens it as UTF-8
    with errors.open(encoding="utf-8-sig", newline="") as f:
        written = list(csv.DictReader(f))
    assert [(r["line"], r["id"], r["column"]) for r in written] == [
        ("2", "a", "employees"),
        ("3", "b", "deficit"),
        ("3", "b", "founded_on"),
        ("5", "c", "industry"),
        ("6", "", ""),
        ("7", "e", "employees"),
    ]
    assert [f"{r['line']}行目 {r['message']}" for r in written] == BAD_LINES
    # the good rows are judged exactly as a file of only them
    alone = tmp_path / "alone.csv"
    alone.write_text("id,industry,employees\nf,製造業,1000\ng,製造業,30\n", encoding="utf-8")
    assert main(["screen", str(alone), str(tmp_path / "alone_out.csv"), "--as-of", "2024-03-20"]) == 0
    assert pacsv.read_csv(tmp_path / "alone_out.csv").to_pylist() == rows


def test_the_listing_stops_at_a_limit_and_gives_the_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("industry,employees\n" + "製造業,x\n" * 250 + "製造業,3\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["screen", str(source), str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert "（250行・250か所）" in err
    assert "101行目 employees" in err and "102行目 employees" not in err  # lines 2..101
    assert "…ほか150か所（最初の100か所を表示しました）" in err


def test_a_file_that_is_not_utf8_is_named_by_line_and_can_be_read_as_cp932(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes("industry,employees\n製造業,3\n小売業,4\n".encode("cp932"))
    with pytest.raises(SystemExit) as exit_info:
        main(["screen", str(source), str(tmp_path / "out.csv"), "--as-of", "2024-03-20"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "2行目 industry（業種）: UTF-8 の文字として読めません" in err
    assert "3行目 industry（業種）: UTF-8 の文字として読めません" in err
    assert "必須項目です" not in err  # one message per bad cell
    assert "--encoding cp932" in err
    out = tmp_path / "out.csv"
    assert main(["screen", str(source), str(out), "--as-of", "2024-03-20", "--encoding", "cp932"]) == 0
    assert len(pacsv.read_csv(out).to_pylist()) == 2


def test_parquet_rows_are_counted_from_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow as pa

    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"industry": ["製造業", "製造業", "鉄鋼業"], "employees": [3, -2, 4]}), source)
    with pytest.raises(SystemExit):
        main(["screen", str(source), str(tmp_path / "out.parquet")])
    err = capsys.readouterr().err
    assert "2件目 employees（常時使用する従業員数）: 0以上の値を指定してください（'-2'）" in err
    assert "3件目 industry（業種）: 不明な値です（'鉄鋼業'）" in err


def test_no_open_round_is_said_on_stderr_and_stdout_stays_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clock: Clock
) -> None:
    from datetime import datetime

    source = tmp_path / "in.csv"
    source.write_text("industry,employees\n製造業,3\n", encoding="utf-8")
    assert main(["screen", str(source), str(tmp_path / "a.csv"), "--as-of", "2024-03-20"]) == 0
    assert "受付中の公募回はありません" not in capsys.readouterr().err
    # without --as-of, on a day after every round: the notice says so and how to choose the day
    clock.set(datetime(2031, 1, 6, 9, 0, tzinfo=JST))
    assert main(["screen", str(source), str(tmp_path / "b.csv")]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "令和13年1月6日(月)（2031-01-06）に受付中の公募回はありません" in captured.err
    assert "--as-of で指定できます" in captured.err
    assert pacsv.read_csv(tmp_path / "b.csv").num_rows == 1
