"""`shien screen`: evaluate a population of businesses (CSV or Parquet, one row per business).

The file's columns are the flat column format of `shien.rules.columns` (see README). Values are
validated column by column with numpy/pyarrow; the first bad cell of a column is reported with
its line number. Evaluation runs in chunks on worker threads (numpy releases the GIL), through the
same `evaluate` that `shien estimate` uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shien.rules.columns import BY_NAME, COLUMNS, Batch, Column, parse_enum, parse_set
from shien.rules.engine import evaluate, grant_frames, screen_columns
from shien.rules.errors import DomainError
from shien.rules.vec import FAIL, PASS, UNKNOWN

PASSTHROUGH = ("id",)
TRUE_WORDS = {"true", "1", "yes", "y", "t", "はい", "有", "○"}
FALSE_WORDS = {"false", "0", "no", "n", "f", "いいえ", "無", "×"}
CHUNK = 32_768  # rows per task: small enough that temporaries stay in cache


def _error(column: Column | str, row: int | None, message: str) -> DomainError:
    name = column if isinstance(column, str) else column.name
    label = "" if isinstance(column, str) else f"（{column.label}）"
    where = f"{row + 2}行目 " if row is not None else ""  # +1 header line, +1 one-based
    return DomainError("invalid_population", f"{where}{name}{label}: {message}")


# -- reading ------------------------------------------------------------------------------------------


def _csv_types() -> dict[str, pa.DataType]:
    types: dict[str, pa.DataType] = {"id": pa.string()}
    for c in COLUMNS:
        if c.kind in ("int", "yen"):
            types[c.name] = pa.int64()
        elif c.kind == "pct":
            types[c.name] = pa.float64()
        else:
            types[c.name] = pa.dictionary(pa.int32(), pa.string())
    return types


_CSV_ERROR = re.compile(
    r"column #(\d+): (?:Row #(\d+): )?CSV conversion error to (\w+): invalid value '(.*)'", re.S
)
_NUMBER = {"int64": r"^\s*[-+]?\d+\s*$", "double": r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"}


def _first_unparsable(path: Path, name: str, kind: str) -> int | None:
    """Row index of the first cell of `name` that is not a number (pyarrow does not always say)."""
    text = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            include_columns=[name],
            column_types={name: pa.string()},
            strings_can_be_null=True,
            null_values=[""],
        ),
    ).column(name)
    ok = pc.or_kleene(pc.is_null(text), pc.match_substring_regex(text, _NUMBER.get(kind, _NUMBER["double"])))
    bad = np.flatnonzero(~ok.to_numpy(zero_copy_only=False))
    return int(bad[0]) if bad.size else None


def read_table(path: Path) -> pa.Table:
    suffix = path.suffix.lower()
    if not path.exists():
        raise DomainError("file_not_found", f"ファイルが見つかりません: {path}")
    if suffix in (".parquet", ".pq"):
        try:
            return pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DomainError("invalid_population", f"Parquetファイルを読み込めません: {exc}") from None
    if suffix not in (".csv", ".txt"):
        raise DomainError(
            "unsupported_format", f"CSV（.csv）または Parquet（.parquet）を指定してください: {path.name}"
        )
    header = path.open("rb").readline().decode("utf-8-sig").strip().split(",")
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                use_threads=True, block_size=1 << 20
            ),  # small blocks keep both cores busy
            convert_options=pacsv.ConvertOptions(
                column_types={k: v for k, v in _csv_types().items() if k in header},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        match = _CSV_ERROR.search(str(exc))
        if match:
            index, kind, value = int(match[1]), match[3], match[4]
            name = header[index] if index < len(header) else f"#{index}"
            column = BY_NAME.get(name, name)
            row = int(match[2]) - 2 if match[2] else _first_unparsable(path, name, kind)
            wanted = "整数" if kind == "int64" else "数値"
            raise _error(column, row, f"{wanted}を指定してください（'{value}'）") from None
        raise DomainError("invalid_population", f"CSVファイルを読み込めません: {exc}") from None


# -- columns -> batch ---------------------------------------------------------------------------------


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _strings(array: pa.ChunkedArray) -> tuple[np.ndarray, list[str | None]]:
    """Dictionary codes per row (-1 for null) and the distinct strings they point to."""
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array.cast(pa.string()))
    array = array.unify_dictionaries() if isinstance(array, pa.ChunkedArray) else array
    combined = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    indices = combined.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    words = combined.dictionary.to_pylist()
    blank = [i for i, w in enumerate(words) if w is None or not w.strip()]
    if blank:  # an empty cell is a missing value
        indices = np.where(np.isin(indices, blank), -1, indices)
    return indices, words


def _convert(column: Column, array: pa.ChunkedArray, n: int) -> tuple[Any, Any]:
    """(values, known) for one column of the file, validated."""
    kind = column.kind
    if kind in ("int", "yen", "pct"):
        if pa.types.is_string(array.type) or pa.types.is_dictionary(array.type):
            try:
                array = array.cast(pa.string()).cast(pa.float64() if kind == "pct" else pa.int64())
            except pa.ArrowInvalid:
                raise _error(column, None, "数値を指定してください") from None
        known = array.is_valid().to_numpy(zero_copy_only=False)
        if kind == "pct":
            raw = array.cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False) * 100
            values = np.rint(raw).astype(np.int64)
            if (np.abs(raw - values) > 1e-6).any():
                raise _error(
                    column, _first_bad(np.abs(raw - values) > 1e-6), "小数点以下2桁までで指定してください"
                )
        else:
            if pa.types.is_floating(array.type):
                floats = array.fill_null(0).to_numpy(zero_copy_only=False)
                if (floats != np.floor(floats)).any():
                    raise _error(column, _first_bad(floats != np.floor(floats)), "整数を指定してください")
                array = array.cast(pa.int64())
            values = array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        if column.low is not None and ((values < column.low) & known).any():
            raise _error(
                column, _first_bad((values < column.low) & known), f"{column.low:,}以上の値を指定してください"
            )
        if column.high is not None and ((values > column.high) & known).any():
            raise _error(
                column,
                _first_bad((values > column.high) & known),
                f"{column.high:,}以下の値を指定してください",
            )
        if column.required and not known.all():
            raise _error(column, _first_bad(~known), "必須項目です")
        return values, known
    if kind in ("tri", "flag"):
        if pa.types.is_boolean(array.type):
            valid = array.is_valid().to_numpy(zero_copy_only=False)
            truth = array.fill_null(False).to_numpy(zero_copy_only=False)
            out = np.where(truth, PASS, FAIL).astype(np.int8)
        else:
            indices, words = _strings(array)
            table = []
            for word in words:
                w = (word or "").strip().lower()
                if not w:
                    table.append(UNKNOWN)
                elif w in TRUE_WORDS:
                    table.append(PASS)
                elif w in FALSE_WORDS:
                    table.append(FAIL)
                else:
                    bad = _first_bad(indices == words.index(word))
                    raise _error(column, bad, f"true または false を指定してください（'{word}'）")
            lookup = np.array([*table, UNKNOWN], dtype=np.int8)  # index -1 (null) → UNKNOWN
            out = lookup[indices]
            valid = indices >= 0
        if kind == "flag":
            out = np.where(valid, out, FAIL).astype(np.int8)
        else:
            out[~valid] = UNKNOWN
        return out, None
    if kind == "date":
        if pa.types.is_date(array.type) or pa.types.is_timestamp(array.type):
            days = array.cast(pa.date32())
        else:
            try:
                days = pc.strptime(array.cast(pa.string()), format="%Y-%m-%d", unit="s").cast(pa.date32())
            except pa.ArrowInvalid:
                raise _error(column, None, "日付は YYYY-MM-DD 形式で指定してください") from None
        known = days.is_valid().to_numpy(zero_copy_only=False)
        values = days.cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        return values, known
    indices, words = _strings(array)
    codes = []
    for word in words:
        if word is None or not word.strip():
            codes.append(-1 if kind == "enum" else 0)
            continue
        try:
            codes.append(parse_enum(word, column) if kind == "enum" else parse_set(word, column))
        except ValueError as exc:
            bad = _first_bad(indices == words.index(word))
            shown = exc.args[0] if kind == "set" and exc.args else word
            raise _error(column, bad, f"不明な値です（'{shown}'）") from None
    if kind == "enum":
        lookup = np.array([*codes, -1], dtype=np.int16)
        values = lookup[indices]
        if column.required and (values < 0).any():
            raise _error(column, _first_bad(values < 0), "必須項目です")
        return values, None
    lookup64 = np.array([*codes, 0], dtype=np.int64)
    return lookup64[indices], indices >= 0


def batch_from_table(table: pa.Table, *, ignore_unknown: bool = False) -> Batch:
    names = set(table.column_names)
    unknown = sorted(names - set(BY_NAME) - set(PASSTHROUGH))
    if unknown and not ignore_unknown:
        raise DomainError(
            "unknown_columns",
            f"不明な列です: {', '.join(unknown)}（列名を確認するか --ignore-unknown-columns を指定してください）",
        )
    n = table.num_rows
    values: dict[str, Any] = {}
    known: dict[str, Any] = {}
    for column in COLUMNS:
        if column.name not in names:
            if column.required:
                raise _error(column, None, "必須の列がありません")
            if column.name == "expenses_given":  # a file with expense columns gives its expenses
                given = any(name.startswith("expense_") for name in names)
                values[column.name] = np.full(n, PASS if given else FAIL, dtype=np.int8)
                continue
            if column.kind in ("tri", "flag"):
                values[column.name] = np.full(n, UNKNOWN if column.kind == "tri" else FAIL, dtype=np.int8)
            elif column.kind == "enum":
                values[column.name] = np.full(n, -1, dtype=np.int16)
            elif column.kind != "yen":
                values[column.name] = np.zeros(n, dtype=np.int64)
                known[column.name] = np.zeros(n, dtype=bool)
            continue
        v, k = _convert(column, table.column(column.name), n)
        values[column.name] = v
        if k is not None and column.kind != "yen":
            known[column.name] = k
    return Batch(n, values, known)


# -- evaluation ---------------------------------------------------------------------------------------


def _slice(batch: Batch, start: int, stop: int) -> Batch:
    return Batch(
        stop - start,
        {k: v[start:stop] for k, v in batch.values.items()},
        {k: v[start:stop] for k, v in batch.known.items()},
    )


def screen_batch(
    batch: Batch,
    as_of: datetime,
    *,
    workers: int = 2,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Eligibility and subsidy of every grant frame for every business, plus the best frame."""
    keys = grant_frames()
    out: dict[str, np.ndarray] = {}
    for key in keys:
        prefix = key.replace("/", ".")
        out[f"{prefix}.eligible"] = np.zeros(batch.n, dtype=bool)
        out[f"{prefix}.subsidy_yen"] = np.zeros(batch.n, dtype=np.int64)

    def run(start: int) -> int:
        stop = min(start + chunk, batch.n)
        columns = screen_columns(evaluate(_slice(batch, start, stop), as_of))
        for name, target in out.items():
            target[start:stop] = columns[name]
        return stop - start

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for done in pool.map(run, range(0, batch.n, chunk)):
            if progress:
                progress(done)
    # running maximum: contiguous passes, unlike argmax over a stacked (frames × rows) array
    best = np.full(batch.n, len(keys), dtype=np.int16)  # index len(keys) = no frame
    best_amount = np.zeros(batch.n, dtype=np.int64)
    for index, key in enumerate(keys):
        amount = out[f"{key.replace('/', '.')}.subsidy_yen"]
        higher = amount > best_amount
        best[higher] = index
        np.maximum(best_amount, amount, out=best_amount)
    out["best_frame"] = np.array(list(keys) + [""], dtype=object)[best]
    out["best_subsidy_yen"] = best_amount
    return out


def output_table(table: pa.Table, columns: dict[str, np.ndarray]) -> pa.Table:
    arrays: dict[str, Any] = {}
    if "id" in table.column_names:
        arrays["id"] = table.column("id")
    for name, values in columns.items():
        arrays[name] = pa.array(values, type=pa.string()) if values.dtype == object else pa.array(values)
    return pa.table(arrays)


def write_table(table: pa.Table, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        pq.write_table(table, path, compression="snappy")
    elif suffix in (".csv", ".txt"):
        pacsv.write_csv(table, path)
    else:
        raise DomainError(
            "unsupported_format", f"出力は .csv または .parquet を指定してください: {path.name}"
        )
