"""`shien screen`: evaluate a population of businesses (CSV or Parquet, one row per business).

The file's columns are the flat column format of `shien.rules.columns` (see README). Values are
validated column by column with numpy/pyarrow, and every bad cell is collected (not only the first):
`load` either raises `PopulationError` listing them, or, when asked to keep going, leaves the bad
rows out and returns them as `RowError`s for an error file. Rows are named as a person finds them:
in a CSV by the line of the file (the header is line 1, so the first business is line 2; blank
lines and values spanning lines are counted), in Parquet by the row's number from 1.

A well-formed CSV is read once with the column types; only when that fails is it read again as
text, to find every bad row. Evaluation runs in chunks on worker threads (numpy releases the GIL),
through the same `evaluate` that `shien estimate` uses.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shien.rules.columns import BY_NAME, COLUMNS, EPOCH_ORDINAL, Batch, Column, parse_enum, parse_set
from shien.rules.engine import evaluate, grant_frames, screen_columns
from shien.rules.errors import DomainError
from shien.rules.vec import FAIL, PASS, UNKNOWN
from shien.rules.vocab import YES_NO_MESSAGE, parse_yes_no

PASSTHROUGH = ("id",)
CHUNK = 32_768  # rows per task: small enough that temporaries stay in cache
SHOWN_ERRORS = 100  # errors listed on standard error; the error file has all of them
ENCODING_HINT = (
    "ファイルは UTF-8 で保存してください（Excel では「CSV UTF-8（コンマ区切り）」。"
    "Shift_JIS のファイルは --encoding cp932 で読めます）"
)


# -- errors -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad cell (or a bad row, column "") where a person finds it in the file."""

    line: int  # CSV: line of the file (header = 1); Parquet: row number from 1
    unit: str  # "行目" (CSV line) or "件目" (Parquet row)
    column: str  # column name, "" for the row as a whole
    message: str  # Japanese, naming the column's meaning
    id: str | None = None  # the row's `id` cell, when the file has one

    def __str__(self) -> str:
        return f"{self.line}{self.unit} {self.message}" if self.line else self.message


class PopulationError(DomainError):
    """Bad rows in the file: every one is in `rows` (the message lists the first SHOWN_ERRORS)."""

    def __init__(self, errors: list[RowError]) -> None:
        rows = len({e.line for e in errors if e.line})
        lines = [f"入力に誤りがあります（{rows:,}行・{len(errors):,}か所）。出力ファイルは作成していません。"]
        lines += [str(e) for e in errors[:SHOWN_ERRORS]]
        if len(errors) > SHOWN_ERRORS:
            lines.append(f"…ほか{len(errors) - SHOWN_ERRORS:,}か所（最初の{SHOWN_ERRORS}か所を表示しました）")
        if any("UTF-8" in e.message for e in errors):
            lines.append(ENCODING_HINT)
        lines.append(
            "--errors 誤り.csv を指定すると、誤りのない行だけを判定して出力し、"
            "誤りのある行を行番号・列・メッセージとともに 誤り.csv に書き出します。"
        )
        super().__init__("invalid_population", "\n".join(lines))
        self.rows = errors


def _described(column: Column | str, message: str) -> str:
    if isinstance(column, str):
        return f"{column}: {message}" if column else message
    return f"{column.name}（{column.label}）: {message}"


def _error(column: Column | str, message: str) -> DomainError:
    """A problem with the file as a whole (a missing or unknown column): no row to leave out."""
    return DomainError("invalid_population", _described(column, message))


class _Problems:
    """Bad cells found while converting: row indexes of the table, grouped by column and message."""

    def __init__(self) -> None:
        self.cells: list[tuple[np.ndarray, Column | str, str, list[Any] | None, bool]] = []
        self.lines: list[tuple[int, str, str]] = []  # rows that never reached the table, by line
        self.skipped = 0  # how many such rows the reader left out (their lines are found later)

    def add(
        self,
        mask: np.ndarray,
        column: Column | str,
        message: str,
        shown: Any = None,
        *,
        missing: bool = False,
    ) -> None:
        """Rows where `mask` holds are bad; `shown` (a column of values) puts each value in its message.
        A `missing` (required) problem is dropped where the same cell already has another one."""
        rows = np.flatnonzero(mask)
        if rows.size:
            if shown is None:
                values = None
            elif isinstance(shown, pa.Array | pa.ChunkedArray):
                values = shown.take(pa.array(rows)).to_pylist()
            else:
                values = [shown[int(i)] for i in rows]
            self.cells.append((rows, column, message, values, missing))

    def __bool__(self) -> bool:
        return bool(self.cells or self.lines or self.skipped)

    def bad_rows(self, n: int) -> np.ndarray:
        bad = np.zeros(n, dtype=bool)
        for rows, *_ in self.cells:
            bad[rows] = True
        return bad

    def errors(
        self, lines: np.ndarray, unit: str, ids: list[Any] | None, order: dict[str, int]
    ) -> list[RowError]:
        out = [RowError(line, unit, column, message) for line, column, message in self.lines]
        named = [
            (c if isinstance(c, str) else c.name, rows, missing) for rows, c, _, _, missing in self.cells
        ]
        found = {(name, row) for name, rows, missing in named if not missing for row in rows.tolist()}
        for rows, column, message, values, missing in self.cells:
            name = column if isinstance(column, str) else column.name
            for k, row in enumerate(rows.tolist()):
                if missing and (name, row) in found:
                    continue
                text = message if values is None else f"{message}（'{values[k]}'）"
                ident = None if ids is None or ids[row] is None else str(ids[row])
                out.append(RowError(int(lines[row]), unit, name, _described(column, text), ident))
        out.sort(key=lambda e: (e.line, order.get(e.column, -1)))
        return out


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


def _check_suffix(path: Path, *, output: bool = False) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".txt"):
        return "csv"
    what = "出力" if output else "入力"
    raise DomainError(
        "unsupported_format", f"{what}は CSV（.csv）または Parquet（.parquet）を指定してください: {path.name}"
    )


def check_output(path: Path, *, source: Path | None = None, what: str = "出力") -> None:
    """Refuse, before any work is done, an output that could not be written (an unknown format, a
    folder that does not exist, a folder) or that would overwrite the input `source`."""
    if what == "出力":
        _check_suffix(path, output=True)
    if path.is_dir():
        raise DomainError(
            "invalid_output", f"{what}にはフォルダではなくファイルの名前を指定してください: {path}"
        )
    if not path.parent.is_dir():
        raise DomainError("invalid_output", f"{what}を書き出すフォルダがありません: {path.parent}")
    if source is not None and path.resolve() == source.resolve():
        raise DomainError(
            "invalid_output", f"{what}に入力と同じファイルは指定できません（入力が上書きされます）: {path}"
        )


def read_table(path: Path, *, encoding: str = "utf-8") -> pa.Table:
    """The file as a table, for a file that is well formed (else `load` finds every bad row)."""
    return _read(path, encoding, _Problems())[0]


def _read(
    path: Path, encoding: str, problems: _Problems
) -> tuple[pa.Table, str, Callable[[int], np.ndarray]]:
    """(table, unit, line numbers of its rows). Rows that could not be read are added to `problems`."""
    if not path.exists():
        raise DomainError("file_not_found", f"ファイルが見つかりません: {path}")
    if _check_suffix(path) == "parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError):
            raise DomainError("invalid_population", f"Parquetファイルとして読めません: {path.name}") from None
        return table, "件目", lambda n: np.arange(1, n + 1)
    header = _csv_header(path, encoding)
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                use_threads=True, block_size=1 << 20, encoding=encoding
            ),  # small blocks keep both cores busy
            convert_options=pacsv.ConvertOptions(
                column_types={k: v for k, v in _csv_types().items() if k in header},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        table = _read_csv_as_text(path, header, encoding, problems)
    rows = table.num_rows
    return table, "行目", lambda n: _csv_lines(path, encoding, rows, problems)


def _text_encoding(encoding: str) -> str:
    """Python's name for reading the file as text: UTF-8 skips a byte order mark, as pyarrow does."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def _csv_header(path: Path, encoding: str) -> list[str]:
    with path.open("rb") as f:
        first = f.readline()
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DomainError(
            "unknown_encoding", f"--encoding: 不明な文字コードです: {encoding}（例: utf-8、cp932）"
        ) from None
    try:
        text = first.decode(_text_encoding(encoding))
    except UnicodeDecodeError:
        raise DomainError(
            "invalid_population", f"1行目（見出し）を {encoding} として読めません。{ENCODING_HINT}"
        ) from None
    names = next(csv.reader([text]), [])
    if not [n for n in names if n.strip()]:
        raise DomainError("invalid_population", "1行目に列名（見出し）がありません")
    return names


def _read_csv_as_text(path: Path, header: list[str], encoding: str, problems: _Problems) -> pa.Table:
    """Every column as text, rows with the wrong number of fields left out (their lines come later)."""
    skipped = [0]

    def skip(_row: Any) -> str:
        skipped[0] += 1
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=True, block_size=1 << 20, encoding=encoding),
            parse_options=pacsv.ParseOptions(invalid_row_handler=skip, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.binary()), strings_can_be_null=True, null_values=[""]
            ),
        )
    except UnicodeDecodeError:
        raise DomainError(
            "invalid_population", f"ファイルを {encoding} として読めません。文字コードを確かめてください"
        ) from None
    except pa.ArrowInvalid:
        raise DomainError(
            "invalid_population",
            f'CSVファイルとして読めません: {path.name}（引用符 " の対応などを確かめてください）',
        ) from None
    problems.skipped = skipped[0]
    columns = {}
    for name in table.column_names:  # column by column, each column's bytes freed once it is text
        columns[name] = _utf8(name, table.column(name), problems)
        table = table.drop_columns([name])
    return pa.table(columns)


def _utf8(name: str, data: pa.ChunkedArray, problems: _Problems) -> pa.ChunkedArray:
    """Bytes to text; cells that are not UTF-8 are problems (and become blank)."""
    try:
        return data.cast(pa.string())
    except pa.ArrowInvalid:
        pass
    bad = np.zeros(len(data), dtype=bool)
    for i, value in enumerate(data.to_pylist()):
        if value is not None:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                bad[i] = True
    problems.add(bad, BY_NAME.get(name, name), "UTF-8 の文字として読めません")
    mask = pa.array(bad)
    return pc.if_else(mask, pa.scalar(None, pa.binary()), data).cast(pa.string())


def _csv_lines(path: Path, encoding: str, rows: int, problems: _Problems) -> np.ndarray:
    """The line where each row of the table starts (header = 1). Adds rows of the wrong width to
    `problems`. Fast when every line is one row; otherwise the file is walked with Python's csv."""
    newlines, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            newlines += block.count(b"\n")
            last = block[-1:]
    physical = newlines + (0 if last == b"\n" else 1)
    if physical == rows + 1:
        return np.arange(2, rows + 2)
    starts = np.zeros(rows, dtype=np.int64)
    found = 0
    csv.field_size_limit(sys.maxsize)
    text_encoding = _text_encoding(encoding)
    try:
        with path.open(encoding=text_encoding, errors="replace", newline="") as f:
            reader = csv.reader(f)
            previous, width = 0, None
            for record in reader:
                start, previous = previous + 1, reader.line_num
                if not record:  # a blank line: skipped by the reader too
                    continue
                if width is None:
                    width = len(record)
                    continue
                if len(record) != width:
                    problems.lines.append(
                        (start, "", f"列の数が見出しと違います（見出しは{width}列、この行は{len(record)}列）")
                    )
                    continue
                if found < rows:
                    starts[found] = start
                found += 1
    except csv.Error:
        found = -1
    if found != rows:  # the two readers disagree on a malformed file: count rows as lines
        starts = np.arange(2, rows + 2)
    if problems.skipped > len(problems.lines):
        problems.lines.append((0, "", f"列の数が見出しと違う行が{problems.skipped:,}行あります"))
    return starts


# -- columns -> batch ---------------------------------------------------------------------------------


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


_INTEGER = r"^[-+]?[0-9]+$"
_DECIMAL = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"
_GROUPED = r"^[-+]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$"  # 1,000,000 as Excel shows it


def _numbers(column: Column, array: Any, problems: _Problems) -> tuple[Any, np.ndarray]:
    """Text cells to numbers (full-width digits and 1,000 separators are read); the rest are problems."""
    original = array.cast(pa.string())
    integer = column.kind != "pct"
    try:  # plain numbers, as in most columns of a file that failed elsewhere
        return original.cast(pa.int64() if integer else pa.float64()), np.zeros(len(original), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    text = pc.utf8_trim_whitespace(pc.utf8_normalize(original, "NFKC"))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    grouped = pc.match_substring_regex(text, _GROUPED)
    text = pc.if_else(grouped, pc.replace_substring(text, ",", ""), text)
    ok = pc.match_substring_regex(text, _INTEGER if integer else _DECIMAL)
    if integer:  # int64 holds 18 digits safely
        ok = pc.and_(ok, pc.less_equal(pc.utf8_length(pc.replace_substring_regex(text, r"^[-+]?0*", "")), 18))
    bad = pc.invert(ok).fill_null(False).to_numpy(zero_copy_only=False)
    if bad.any():
        problems.add(bad, column, "整数を指定してください" if integer else "数値を指定してください", original)
        text = pc.if_else(pa.array(bad), pa.scalar(None, pa.string()), text)
    if integer:
        text = pc.replace_substring_regex(text, r"^\+", "")
    return text.cast(pa.int64() if integer else pa.float64()), bad


def _convert(column: Column, array: Any, n: int, problems: _Problems) -> tuple[Any, Any]:
    """(values, known) for one column of the file; bad cells are added to `problems`."""
    kind = column.kind
    if kind in ("int", "yen", "pct"):
        bad = np.zeros(n, dtype=bool)
        if not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
            array, bad = _numbers(column, array, problems)
        known = array.is_valid().to_numpy(zero_copy_only=False)
        if kind == "pct":
            raw = array.cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False) * 100
            values = np.rint(raw).astype(np.int64)
            off = np.abs(raw - values) > 1e-6
            if off.any():
                problems.add(off, column, "小数点以下2桁までで指定してください", array)
        else:
            if pa.types.is_floating(array.type):
                floats = array.fill_null(0).to_numpy(zero_copy_only=False)
                fraction = floats != np.floor(floats)
                if fraction.any():
                    problems.add(fraction, column, "整数を指定してください", array)
                array = pc.cast(array, pa.int64(), safe=False)
            values = array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        if column.low is not None:
            low = (values < column.low) & known
            if low.any():
                problems.add(low, column, f"{column.low:,}以上の値を指定してください", values)
        if column.high is not None:
            high = (values > column.high) & known
            if high.any():
                problems.add(high, column, f"{column.high:,}以下の値を指定してください", values)
        if column.required and not known.all():
            problems.add(~known & ~bad, column, "必須項目です", missing=True)
        return values, known
    if kind in ("tri", "flag"):
        if pa.types.is_boolean(array.type):
            valid = array.is_valid().to_numpy(zero_copy_only=False)
            truth = array.fill_null(False).to_numpy(zero_copy_only=False)
            out = np.where(truth, PASS, FAIL).astype(np.int8)
        else:
            indices, words = _strings(array)
            # one はい／いいえ vocabulary with JSON profiles and the 診断 form (rules/vocab.py)
            answers = [None if word is None else parse_yes_no(word) for word in words]
            table = [None if a is None else PASS if a else FAIL for a in answers]
            _unknown_words(problems, column, indices, words, table, YES_NO_MESSAGE)
            lookup = np.array([UNKNOWN if t is None else t for t in table] + [UNKNOWN], dtype=np.int8)
            out = lookup[indices]  # index -1 (null) → UNKNOWN
            valid = indices >= 0
        if kind == "flag":
            out = np.where(valid, out, FAIL).astype(np.int8)
        else:
            out[~valid] = UNKNOWN
        return out, None
    if kind == "date":
        if pa.types.is_date(array.type) or pa.types.is_timestamp(array.type):
            days = array.cast(pa.date32())
            known = days.is_valid().to_numpy(zero_copy_only=False)
            values = days.cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            return values, known
        indices, words = _strings(array)
        ordinals = [_day(word) for word in words]
        _unknown_words(problems, column, indices, words, ordinals, "日付は YYYY-MM-DD 形式で指定してください")
        lookup64 = np.array([0 if d is None else d for d in ordinals] + [0], dtype=np.int64)
        return lookup64[indices], (indices >= 0) & np.array([d is not None for d in ordinals] + [False])[
            indices
        ]
    indices, words = _strings(array)
    codes: list[int | None] = []
    shown: list[str | None] = []
    for word in words:
        shown.append(word)
        try:
            text = word or ""
            codes.append(parse_enum(text, column) if kind == "enum" else parse_set(text, column))
        except ValueError as exc:
            codes.append(None)
            if kind == "set" and exc.args:
                shown[-1] = exc.args[0]  # the member that is not known
    _unknown_words(problems, column, indices, shown, codes, "不明な値です")
    if kind == "enum":
        lookup = np.array([-1 if c is None else c for c in codes] + [-1], dtype=np.int16)
        values = lookup[indices]
        if column.required and (indices < 0).any():
            problems.add(indices < 0, column, "必須項目です", missing=True)
        return values, None
    lookup64 = np.array([0 if c is None else c for c in codes] + [0], dtype=np.int64)
    return lookup64[indices], indices >= 0


def _unknown_words(
    problems: _Problems,
    column: Column,
    indices: np.ndarray,
    words: list[str | None],
    parsed: list[Any],
    message: str,
) -> None:
    """Rows whose (non-blank) word did not parse are problems, each shown with its word."""
    bad = [
        code for code, (word, value) in enumerate(zip(words, parsed, strict=True)) if value is None and word
    ]
    if bad:
        mask = np.isin(indices, bad)
        problems.add(mask, column, message, _Words(indices, words))


class _Words:
    """The word of each row, for messages: row → words[indices[row]]."""

    def __init__(self, indices: np.ndarray, words: list[str | None]) -> None:
        self.indices, self.words = indices, words

    def __getitem__(self, row: int) -> str | None:
        return self.words[int(self.indices[row])]


_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")


def _day(word: str | None) -> int | None:
    """Days since 1970-01-01 of 'YYYY-MM-DD' (or Excel's 'YYYY/M/D'); None for a date that does not exist."""
    match = _DATE.fullmatch(unicodedata.normalize("NFKC", word or "").strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).toordinal() - EPOCH_ORDINAL
    except ValueError:
        return None


def _check_columns(names: Iterable[str], *, ignore_unknown: bool) -> None:
    present = set(names)
    unknown = sorted(present - set(BY_NAME) - set(PASSTHROUGH))
    if unknown and not ignore_unknown:
        raise DomainError(
            "unknown_columns",
            f"不明な列です: {', '.join(unknown)}（列名を確認するか --ignore-unknown-columns を指定してください）",
        )
    for column in COLUMNS:
        if column.required and column.name not in present:
            raise _error(column, "必須の列がありません")


def _batch(table: pa.Table, problems: _Problems) -> Batch:
    names = set(table.column_names)
    n = table.num_rows
    values: dict[str, Any] = {}
    known: dict[str, Any] = {}
    for column in COLUMNS:
        if column.name not in names:
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
        v, k = _convert(column, table.column(column.name), n, problems)
        values[column.name] = v
        if k is not None and column.kind != "yen":
            known[column.name] = k
    return Batch(n, values, known)


@dataclass
class Population:
    table: pa.Table  # the rows judged (without the bad rows when asked to keep going)
    batch: Batch
    errors: list[RowError] = field(default_factory=list)  # the rows left out
    read: int = 0  # rows in the file that were read as rows


def load(
    path: Path, *, ignore_unknown: bool = False, keep_going: bool = False, encoding: str = "utf-8"
) -> Population:
    """Read and validate a population. Every bad cell is found; without `keep_going` they raise
    PopulationError, with it the bad rows are left out and returned as `errors`."""
    problems = _Problems()
    table, unit, lines_of = _read(path, encoding, problems)
    _check_columns(table.column_names, ignore_unknown=ignore_unknown)
    batch = _batch(table, problems)
    if not problems:
        return Population(table, batch, read=table.num_rows)
    ids = table.column("id").to_pylist() if "id" in table.column_names else None
    order = {name: i for i, name in enumerate(table.column_names)}
    lines = lines_of(table.num_rows)
    errors = problems.errors(lines, unit, ids, order)
    if not keep_going:
        raise PopulationError(errors)
    read = table.num_rows
    del batch  # memory: only the good rows' table and batch live on
    good = table.filter(pa.array(~problems.bad_rows(read)))
    del table
    again = _Problems()
    batch = _batch(good, again)
    if again:  # the good rows convert on their own; anything else is a bug, not the user's input
        raise RuntimeError(f"rows still bad after leaving out the bad ones: {again.cells[:1]}")
    return Population(good, batch, errors, read=read)


def write_errors(errors: list[RowError], path: Path) -> None:
    """The error file: CSV (UTF-8 with BOM, for Excel) with line, id, column and message."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["line", "id", "column", "message"])
    for e in errors:
        writer.writerow([f"{e.line}", e.id or "", e.column, e.message])
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")


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
    if _check_suffix(path, output=True) == "parquet":
        pq.write_table(table, path, compression="snappy")
    else:
        pacsv.write_csv(table, path)
