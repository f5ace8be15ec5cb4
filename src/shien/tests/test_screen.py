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
            "2行目 deficit（赤字）: true または false を指定してください（'maybe'）",
        ),
        ("industry,employees,expense_machinery\n製造業,3,1.5\n", "2行目 expense_machinery"),
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
