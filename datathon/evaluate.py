"""Evaluate a team's submission: read and check it, then score it against the truth.

A submission is a CSV file with a header and one line per bulletin::

    CABBI;siret;score
    350001234567;35123456700018;0.93
    350001234568;;

``;`` or ``,`` separates the fields (sniffed from the header); UTF-8 (with or without a BOM) and
Latin-1, LF or CRLF line endings are accepted; header names are case-insensitive. A blank
``siret`` means "not coded". Optional columns: ``score``, the team's confidence in its coding,
and ``rank``, which turns the file into top-k candidate lists (several lines per CABBI, rank 1
being the coding). Unknown columns are ignored with a warning.

Every problem in a submission is reported as one :class:`~datathon.errors.UserError` naming the
problem and up to ten offending lines (1-based, the header is line 1), for instance::

    submission.csv: 3 SIRETs fail their Luhn key (lines 4, 9, 12): '35123456700019', ...

The metrics (DESIGN §6), all on the same bulletins, are the keys of :func:`score`'s result:
``n_bulletins``, ``n_coded``, ``n_correct``, ``coding_rate``, ``precision``, ``success_rate``,
``mca_concordance``, ``only_team_right``, ``only_mca_right``, ``topk_accuracy``,
``coverage_at_precision``, ``by_typcol``, ``by_noise`` and ``warnings``. A bulletin whose truth
is null cannot be coded: coding it is wrong. Top-k accuracy is over the codable bulletins; the
coverage at a target precision is the largest share of all bulletins that a score threshold
keeps coded at that precision (a threshold cannot split equal scores, so neither does the
metric). A rate is None when its denominator is zero, a metric None when its input is absent
(no SIRETC, no rank, no score, no TYPCOL, no NOISE).

Checks and scoring are vectorised (pyarrow compute and numpy): a campaign-size submission of
1.7 M lines is read, checked and scored in a couple of seconds (``benchmarks/bench_score.py``).
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from datathon import schema
from datathon.errors import UserError
from datathon.files import open_regular_file
from datathon.text import plural

DEFAULT_MAX_BYTES = 200_000_000
DEFAULT_MAX_FIELD = 10_000

REQUIRED_COLUMNS = ("CABBI", "siret")
OPTIONAL_COLUMNS = ("score", "rank")
# Header names are matched case-insensitively; these are the names the frame gets.
_CANONICAL = {name.lower(): name for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
DELIMITERS = (";", ",")
# Delimiters people use by mistake, named the way the error message names them.
_WRONG_DELIMITERS = {"\t": "tab", "|": "'|'", " ": "space"}

TOPK = (1, 5, 10)
# Targets as exact hundredths: precision >= target is checked in integers, without rounding error.
PRECISION_TARGETS = {"0.90": 90, "0.95": 95, "0.98": 98}
TYPCOL_LABELS = {0: "paper", 1: "internet"}
CLEAN = "clean"  # the by_noise group of bulletins the noise model left untouched

MAX_LISTED = 10  # offending lines named in one error message
MAX_EXAMPLES = 3  # offending values quoted in one message
#: Lines a file may have per bulletin of the split (``known_cabbi``) when it has no rank column:
#: one each, and as many again for blank lines. Checked before parsing, to bound its memory.
MAX_LINES_PER_BULLETIN = 2
_BLOCK = 1 << 20  # bytes read at a time when counting lines
_HEAD_BYTES = 4096  # bytes kept to find the header's column names
#: What a message shows of a header: its first names, each cut short. The file may not be the
#: user's own (a wrong path), so a message never echoes a whole line of it.
_HEADER_NAMES_SHOWN = 6
_HEADER_NAME_WIDTH = 20

# File signatures of the things people upload instead of a CSV.
_MAGIC = (
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a zip archive (an .xlsx or .ods spreadsheet?)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"ARROW1", "an Arrow/Feather file"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\x80\x04\x95", "a Python pickle"),
    (b"\x80\x05\x95", "a Python pickle"),
)
_UTF8_BOM = b"\xef\xbb\xbf"
# Control characters that never occur in a text file (tab, LF, CR and form feed are fine).
_CONTROL = np.zeros(256, dtype=bool)
_CONTROL[[*range(0, 9), 11, *range(14, 32), 127]] = True
_MAX_CONTROL_SHARE = 0.01
_NON_BLANK = re.compile(r"\S")
_EXPECTED = "expected a header line CABBI;siret, then one line per bulletin"
_SAVE_AS_CSV = "save the submission as CSV (CABBI;siret)"
_SHORT_FIELDS = "a submission's fields are short ids, SIRETs and numbers"


@dataclass
class Submission:
    """A checked submission.

    ``frame`` has the columns ``CABBI`` and ``siret`` (``string`` dtype; ``<NA>`` = not coded),
    plus ``score`` (float64) and ``rank`` (int64) when the file gave them. Read from a file, it
    is indexed by the file line each row came from (``line``); from a DataFrame, it keeps that
    frame's index. ``warnings`` are problems that did not stop the reading; ``sha256`` is the
    digest of the raw bytes (``None`` when built from a DataFrame).
    """

    frame: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    sha256: str | None = None


# --------------------------------------------------------------------------- messages


def _quote(value: Any, width: int = 30) -> str:
    """A value as it appears in a message: quoted, and cut when long."""
    text = str(value)
    return repr(text if len(text) <= width else text[: width - 1] + "…")


@dataclass
class _Source:
    """Where rows come from, so that messages can point at them.

    ``labels[i]`` is how row ``i`` is named: its file line number, or its frame index label.
    """

    name: str
    unit: str  # "line" (a file) or "row" (a DataFrame)
    labels: np.ndarray

    def where(self, rows: np.ndarray) -> str:
        """'lines 4, 9, 12', the first MAX_LISTED of ``rows`` (positions), then '…'."""
        shown = ", ".join(str(label) for label in self.labels[rows[:MAX_LISTED]])
        more = ", …" if len(rows) > MAX_LISTED else ""
        unit = self.unit if len(rows) == 1 else self.unit + "s"
        return f"{unit} {shown}{more}"

    def problem(self, mask: np.ndarray, what: str, values=None, hint: str = "") -> UserError:
        """One error for the rows in ``mask``: '<name>: <what> (<lines>): <examples> — <hint>'.

        ``what`` already holds the count ("3 SIRETs fail their Luhn key"); ``values[i]``, when
        given, is row i's value, quoted for the first offending rows.
        """
        rows = np.flatnonzero(mask)
        message = f"{self.name}: {what} ({self.where(rows)})"
        if values is not None:
            # Distinct examples: a repeated CABBI is quoted once, not once per line.
            examples = list(dict.fromkeys(_quote(values[i]) for i in rows[: 4 * MAX_EXAMPLES]))
            more = len(examples) > MAX_EXAMPLES or len(rows) > 4 * MAX_EXAMPLES
            message += ": " + ", ".join(examples[:MAX_EXAMPLES]) + (", …" if more else "")
        if hint:
            message += f" — {hint}"
        return UserError(message)


# --------------------------------------------------------------------------- arrow helpers


def _strings(values) -> pa.Array:
    """Any sequence of text (Series, array, list, arrow) as one arrow large_string array."""
    if isinstance(values, pa.ChunkedArray):
        arr = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    elif isinstance(values, pa.Array):
        arr = values
    else:
        if isinstance(values, (set, frozenset)):
            values = list(values)
        if not isinstance(values, (pd.Series, pd.Index)):
            values = pd.Series(values, dtype=object)
        arr = pa.array(values.astype("string"))
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


def _as_series(arr: pa.Array, index=None) -> pd.Series:
    """An arrow string array as a pandas ``string`` Series (nulls are ``<NA>``)."""
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index, copy=False)


def _np_bool(arr) -> np.ndarray:
    """An arrow boolean array as numpy, nulls counting as False."""
    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False)


def _int_keys(arr: pa.Array) -> np.ndarray | None:
    """Digit-only ids as distinct int64 keys, or None when some id is not made of digits.

    Hashing integers is several times faster than hashing strings, and bulletin ids are
    usually digits. The length is folded into the key so that '012' and '12' stay apart.
    """
    if len(arr) == 0 or arr.null_count:
        return None
    try:
        values = pc.cast(arr, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    lengths = pc.utf8_length(arr)
    if pc.max(lengths).as_py() > 17 or pc.any(pc.starts_with(arr, "-")).as_py():
        return None
    return values.to_numpy(zero_copy_only=False) + lengths.to_numpy(zero_copy_only=False).astype(np.int64) * 10**17


def _positions(keys: pa.Array, values: pa.Array) -> np.ndarray:
    """Position of each key in ``values`` (-1 when absent); ``values`` should be distinct.

    Submissions usually list bulletins in the order of the test file: that case is detected
    first, since comparing two arrays is much cheaper than hashing them. Digit-only ids are
    then matched as integers; anything else by hashing the strings.
    """
    if len(keys) == len(values) and len(keys) and pc.all(pc.equal(keys, values)).as_py():
        return np.arange(len(keys), dtype=np.int64)
    int_keys, int_values = _int_keys(keys), _int_keys(values)
    if int_keys is not None and int_values is not None:
        index = pd.Index(int_values)
        if index.is_unique:
            return index.get_indexer(int_keys).astype(np.int64)
    found = pc.index_in(keys, value_set=values)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _codes(keys: pa.Array) -> np.ndarray:
    """An integer code per distinct key (equal keys, equal codes)."""
    int_keys = _int_keys(keys)
    if int_keys is not None:
        return pd.factorize(int_keys)[0].astype(np.int64)
    return pc.dictionary_encode(keys).indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _fixed_width_bytes(arr: pa.Array, width: int) -> np.ndarray:
    """The characters of an array of ``width``-long ASCII strings, as an (n, width) uint8 array.

    Reads the arrow data buffer in place instead of converting 1.7 M Python strings.
    """
    arr = arr.cast(pa.large_string())
    n = len(arr)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    start, end = int(offsets[0]), int(offsets[-1])
    if end - start == n * width:  # contiguous: every string has ``width`` bytes
        return data[start:end].reshape(n, width)
    return np.frombuffer("".join(arr.to_pylist()).encode("ascii"), dtype=np.uint8).reshape(n, width)


_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.uint8)  # Luhn: digit -> 2·digit, digits summed
_LA_POSTE = np.frombuffer(b"356000000", dtype=np.uint8) - 48
_LA_POSTE_HEAD_OFFICE_NIC = np.array([0, 0, 0, 4, 8], dtype=np.uint8)


def siret_keys_valid(sirets: pa.Array) -> np.ndarray:
    """Do these 14-digit SIRETs pass their Luhn key? Vectorised :func:`datathon.challenges.sirene.luhn.siret_valid`.

    Every string must already be 14 ASCII digits. La Poste's establishments (SIREN 356000000)
    follow INSEE's exception: the sum of their digits is a multiple of 5.
    """
    digits = _fixed_width_bytes(sirets, 14) - np.uint8(48)
    # In 14 digits the key is the last; the digits at even positions from the left are doubled.
    weighted = digits.copy()
    weighted[:, 0::2] = _DOUBLED[digits[:, 0::2]]
    luhn = weighted.sum(axis=1, dtype=np.int32) % 10 == 0
    head_office = (digits[:, 9:] == _LA_POSTE_HEAD_OFFICE_NIC).all(axis=1)  # follows Luhn
    la_poste = (digits[:, :9] == _LA_POSTE).all(axis=1) & ~head_office
    return np.where(la_poste, digits.sum(axis=1, dtype=np.int32) % 5 == 0, luhn)


def _cast_14_digits(arr: pa.Array) -> np.ndarray | None:
    """int64 values (-1 for nulls) if every non-null string is 14 digits, else None.

    A successful integer cast of 14-character strings without a sign means 14 digits: no
    regular expression is needed on the (usual) clean input.
    """
    try:
        ints = pc.cast(arr, pa.int64())
    except pa.ArrowInvalid:
        return None
    if pc.all(pc.equal(pc.utf8_length(arr), 14)).as_py() is False or pc.any(pc.less(ints, 0)).as_py():
        return None
    return pc.fill_null(ints, -1).to_numpy(zero_copy_only=False)


def _siret_ints(values) -> tuple[np.ndarray, np.ndarray]:
    """SIRETs as int64 (-1 where blank or null), and a mask of the non-blank values that are
    not 14 digits (they get -1 too).

    Comparing integers is far cheaper than comparing strings; 14 digits fit in an int64.
    """
    arr = _strings(values)
    # A failed cast costs as much as a successful one: skip it when blanks make it fail.
    ints = None if pc.any(pc.equal(arr, "")).as_py() else _cast_14_digits(arr)
    if ints is not None:
        return ints, np.zeros(len(arr), dtype=bool)
    # Blanks or spaces around values: clean up, and try the fast path again.
    arr = pc.utf8_trim_whitespace(pc.fill_null(arr, ""))
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.large_string()), arr)
    ints = _cast_14_digits(arr)
    if ints is not None:
        return ints, np.zeros(len(arr), dtype=bool)
    # Some value is malformed: find which.
    ok = pc.match_substring_regex(arr, "^[0-9]{14}$")  # null where blank
    malformed = _np_bool(pc.invert(ok))
    kept = pc.if_else(ok, arr, pa.scalar(None, pa.large_string()))
    ints = pc.fill_null(pc.cast(kept, pa.int64()), -1)
    return ints.to_numpy(zero_copy_only=False), malformed


# --------------------------------------------------------------------------- reading


def read_submission(
    source,
    *,
    known_cabbi=None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_field: int = DEFAULT_MAX_FIELD,
) -> Submission:
    """Read and check a submission.

    ``source`` is a path (str or Path), the raw bytes of a CSV file, or a DataFrame (what the
    notebook helpers pass). ``known_cabbi``, when given, lists the bulletins of the split being
    scored: any other CABBI is an error, and the bulletins left out are reported as a warning
    (they count as not coded), and a file with more lines than ``MAX_LINES_PER_BULLETIN`` per
    known bulletin is refused before it is parsed. Files larger than ``max_bytes``, fields longer
    than ``max_field`` characters, and paths that are not regular files (a symbolic link, a
    directory, a pipe, a device) are refused.

    Raises :class:`~datathon.errors.UserError` (exit code 2) naming the first problem found.
    """
    if max_bytes is not None and max_bytes <= 0:
        raise UserError(f"the size limit must be a positive number of bytes, not {max_bytes}")
    if isinstance(source, pd.DataFrame):
        columns, src, warnings = _columns_from_frame(source, max_field)
        sha256, semicolon = None, False
    else:
        n_known = None if known_cabbi is None else len(known_cabbi)
        name, data = _read_bytes(source, max_bytes, n_known)
        sha256 = hashlib.sha256(data).hexdigest()
        columns, src, warnings, delimiter = _columns_from_csv(data, name, max_field)
        del data  # the raw bytes are not needed any more: free them before the checks' peak
        semicolon = delimiter == ";"
    frame, more = _check(columns, src, known_cabbi, decimal_comma=semicolon)
    return Submission(frame=frame, warnings=warnings + more, sha256=sha256)


def _read_bytes(source, max_bytes: int | None, n_known: int | None) -> tuple[str, bytes]:
    """The name messages use for the submission, and its bytes (after the size and line checks).

    A path must be a regular file itself (:func:`datathon.files.open_regular_file`): a symbolic
    link, a directory, a pipe or a device is refused before anything is read from it.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if max_bytes is not None and len(data) > max_bytes:
            raise UserError(f"submission: {_too_big(len(data), max_bytes)}")
        _check_line_count("submission", io.BytesIO(data), n_known)
        return "submission", data
    if not isinstance(source, (str, Path)):
        raise UserError(
            f"a submission is a CSV path, its bytes or a DataFrame, not {type(source).__name__}"
        )
    path = Path(source)
    with open_regular_file(path, "submission file") as fh:
        size = os.fstat(fh.fileno()).st_size
        if max_bytes is not None and size > max_bytes:
            # Refused before reading: a huge upload must not fill the memory.
            raise UserError(f"{path.name}: {_too_big(size, max_bytes)}")
        _check_line_count(path.name, fh, n_known)
        fh.seek(0)
        return path.name, fh.read()


def _check_line_count(name: str, stream: BinaryIO, n_known: int | None) -> None:
    """Refuse a file with more lines than a submission for ``n_known`` bulletins can have: a
    header and ``MAX_LINES_PER_BULLETIN`` lines per bulletin.

    Counted on the raw bytes, block by block, before any parsing: the parser's memory grows with
    the number of lines (a 200 MB file of one-character lines is 100 M rows), so a file with far
    more lines than bulletins must be stopped here. ``MAX_LINES_PER_BULLETIN`` lines per bulletin
    leave room for blank lines; a file with a ``rank`` column may list up to ``max(TOPK)``
    candidates per bulletin.
    """
    if n_known is None:
        return
    newlines = returns = 0
    head = b""
    last = b"\n"
    for block in iter(lambda: stream.read(_BLOCK), b""):
        if len(head) < _HEAD_BYTES:
            head += block[: _HEAD_BYTES - len(head)]
        newlines += block.count(b"\n")
        returns += block.count(b"\r")
        last = block[-1:]
    # Old Mac files end their lines with CR alone; a last line without a newline counts too.
    n_lines = (newlines if newlines else returns) + (last not in (b"\n", b"\r"))
    ranked = "rank" in _header_names(head)
    per_bulletin = max(TOPK) if ranked else MAX_LINES_PER_BULLETIN
    limit = per_bulletin * max(n_known, 1) + 1  # + 1: the header
    if n_lines > limit:
        allowed = f"at most {max(TOPK)} candidate lines per bulletin" if ranked else "one line per bulletin"
        raise UserError(
            f"{name}: the file has {n_lines:,} lines, more than the {limit:,} allowed for the split's "
            f"{plural(n_known, 'bulletin')} — a submission has a header, then {allowed}"
        )


def _header_names(head: bytes) -> list[str]:
    """The canonical column names of the header line at the start of ``head`` (best effort)."""
    if head.startswith(_UTF8_BOM):
        head = head[len(_UTF8_BOM) :]
    line = head.decode("utf-8", errors="replace").replace("\r", "\n").split("\n", 1)[0]
    return [_normalise_name(f) for delimiter in DELIMITERS for f in line.split(delimiter)]


def _ignored_columns(name: str, unknown: list[str]) -> str:
    return f"{name}: ignored {plural(len(unknown), 'unknown column')}: {', '.join(map(_quote, unknown))}"


def _lines_phrase(numbers: list[int]) -> str:
    """'line 4' or 'lines 4, 9, 12' (the first MAX_LISTED, then '…')."""
    shown = ", ".join(map(str, numbers[:MAX_LISTED])) + (", …" if len(numbers) > MAX_LISTED else "")
    return f"{'line' if len(numbers) == 1 else 'lines'} {shown}"


def _too_big(size: int, limit: int) -> str:
    return (
        f"the file is {size:,} bytes, more than the {limit:,}-byte limit "
        "(a submission has one short line per bulletin; raise the limit with --max-bytes)"
    )


def _columns_from_csv(
    data: bytes, name: str, max_field: int
) -> tuple[dict[str, pa.Array], _Source, list[str], str]:
    """Parse CSV bytes into trimmed string columns, after checking that they are a CSV at all."""
    warnings: list[str] = []
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    if not data or data.isspace():  # isspace: no copy of a large file
        raise UserError(f"{name}: the file is empty — {_EXPECTED}")
    _reject_non_text(data, name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Every byte string decodes as Latin-1; binary content was refused just above.
        text = data.decode("latin-1")
        data = text.encode("utf-8")
        warnings.append(f"{name}: the file is not valid UTF-8: it was read as Latin-1")
    if "\n" not in text and "\r" in text:  # old Mac line endings
        text, data = text.replace("\r", "\n"), data.replace(b"\r", b"\n")
    first = _NON_BLANK.search(text)
    head = first.group() if first else ""
    if head in ("{", "["):
        raise UserError(f"{name}: the file looks like JSON, not a CSV — {_EXPECTED}")
    if head == "<":
        raise UserError(f"{name}: the file looks like HTML or XML, not a CSV — {_EXPECTED}")

    lines = _LineIndex(data)
    first_newline = text.find("\n")
    header_line = (text if first_newline < 0 else text[:first_newline]).rstrip("\r")
    if not header_line.strip():
        raise UserError(f"{name}: line 1 is blank — the first line must be the header CABBI;siret")
    lines.check_field_lengths(text, max_field, name)
    del text  # a copy of the whole file: decoded again below only on the rare paths that need it
    delimiter, header = _sniff_header(header_line, name)

    recognised = [col for col in header if col in _CANONICAL.values()]
    unknown = [raw for raw, col in zip(_split(header_line, delimiter), header) if col not in _CANONICAL.values()]
    if unknown:
        warnings.append(_ignored_columns(name, unknown))
    # Unknown columns get placeholder names, so that arrow never sees two equal names.
    column_names = [col if col in _CANONICAL.values() else f"_ignored_{i}" for i, col in enumerate(header)]

    invalid: list[str] = []

    def on_invalid_row(row) -> str:
        # Whitespace-only lines are noise; others are lines with the wrong number of fields.
        if row.text.strip():
            invalid.append(row.text)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(
                skip_rows=1,
                column_names=column_names,
                # A block must hold the longest line: arrow cannot split a row across blocks.
                block_size=max(1 << 20, 2 * lines.longest + 64),
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid_row),
            convert_options=pacsv.ConvertOptions(
                include_columns=recognised,
                column_types={col: pa.string() for col in recognised},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException as err:
        raise UserError(f"{name}: could not be read as a CSV file ({str(err).splitlines()[0]})") from None
    if invalid:
        # Arrow does not say where the rows were: find their line numbers (error path only).
        bad_lines = lines.lines_with_wrong_field_count(data.decode("utf-8"), delimiter, len(header))
        where = f" ({_lines_phrase(bad_lines)})" if bad_lines else ""
        raise UserError(
            f"{name}: {plural(max(len(bad_lines), len(invalid)), 'line does', 'lines do')} not have the "
            f"header's {len(header)} fields{where}: {', '.join(_quote(t) for t in invalid[:MAX_EXAMPLES])}"
            f" — separate fields with {_quote(delimiter)} as in the header, and quote values that contain it"
        )
    columns = {col: _strings(table.column(col)) for col in recognised}
    labels = lines.row_lines(table.num_rows, data)
    return columns, _Source(name, "line", labels), warnings, delimiter


def _reject_non_text(data: bytes, name: str) -> None:
    """Refuse binary files: known signatures first, then NUL bytes or many control characters."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise UserError(f"{name}: the file is {kind}, not a CSV text file — {_SAVE_AS_CSV}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{name}: the file is UTF-16 text — save it as a UTF-8 (or Latin-1) CSV file")
    nul = data.find(b"\x00")
    sample = np.frombuffer(data[: 1 << 20], dtype=np.uint8)
    controls = int(_CONTROL[sample].sum())
    if nul >= 0 or controls > _MAX_CONTROL_SHARE * len(sample):
        if nul >= 0:
            line = data.count(b"\n", 0, nul) + 1
            where = f"a NUL byte on line {line}"
        else:
            where = f"{controls:,} control characters"
        raise UserError(f"{name}: the file holds binary data ({where}), not a CSV text file — {_SAVE_AS_CSV}")


def _split(line: str, delimiter: str) -> list[str]:
    """The fields of one CSV line (quotes handled)."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:  # a field over the csv module's own size limit, a stray quote
        return line.split(delimiter)


def _normalise_name(raw: str) -> str:
    """A header name as the frame names it: known names in canonical case, others stripped."""
    cleaned = raw.strip().strip("\ufeff").strip()
    return _CANONICAL.get(cleaned.lower(), cleaned)


def _sniff_header(header_line: str, name: str) -> tuple[str, list[str]]:
    """Choose the delimiter from the header line; check the required columns are there.

    ``;`` or ``,``: the one whose fields include both required columns, else the one that
    splits the header into more fields.
    """
    candidates = []
    for delimiter in DELIMITERS:
        header = [_normalise_name(f) for f in _split(header_line, delimiter)]
        complete = all(col in header for col in REQUIRED_COLUMNS)
        candidates.append((complete, len(header), delimiter, header))
    complete, width, delimiter, header = max(candidates, key=lambda c: (c[0], c[1], c[2] == ";"))
    shown = _header_excerpt(header_line, delimiter)
    if width == 1:
        for wrong, label in _WRONG_DELIMITERS.items():
            if wrong in header_line.strip():
                raise UserError(
                    f"{name}: the header {shown} separates its fields with {label} — "
                    "accepted delimiters are ';' and ','"
                )
    if not complete:
        missing = [col for col in REQUIRED_COLUMNS if col not in header]
        first = header[0] if header else ""
        looks_like_data = first.isdigit() or (len(header) > 1 and header[1].isdigit())
        hint = (
            "the first line looks like data: add the header line CABBI;siret"
            if looks_like_data
            else "expected CABBI;siret, optionally with score and rank"
        )
        raise UserError(
            f"{name}: missing required {'column' if len(missing) == 1 else 'columns'} "
            f"{', '.join(missing)} in the header {shown} — {hint}"
        )
    seen: set[str] = set()
    repeated = [col for col in header if col in seen or seen.add(col)]
    if repeated:
        names = sorted(set(repeated))
        raise UserError(
            f"{name}: the header {shown} repeats the {'column' if len(names) == 1 else 'columns'} {', '.join(names)}"
        )
    return delimiter, header


def _header_excerpt(header_line: str, delimiter: str) -> str:
    """A short, quoted excerpt of a header line for a message: its first names, each cut short,
    non-printable characters escaped (by ``repr``), never the whole line."""
    fields = _split(header_line, delimiter)
    names = [f if len(f) <= _HEADER_NAME_WIDTH else f[: _HEADER_NAME_WIDTH - 1] + "…"
             for f in fields[:_HEADER_NAMES_SHOWN]]  # fmt: skip
    more = delimiter + "…" if len(fields) > _HEADER_NAMES_SHOWN else ""
    return repr(delimiter.join(names) + more)


class _LineIndex:
    """Where the lines of a file start and end, to give each parsed row its file line number."""

    def __init__(self, data: bytes):
        buf = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(buf == 10)
        starts = np.concatenate(([0], newlines + 1))
        ends = np.concatenate((newlines, [len(buf)]))
        if starts[-1] == len(buf):  # the file ends with a newline: no line after it
            starts, ends = starts[:-1], ends[:-1]
        lengths = ends - starts
        # CRLF: the \r is part of the line ending, not of the line.
        has_cr = (lengths > 0) & (buf[np.maximum(ends - 1, 0)] == 13)
        self.lengths = lengths - has_cr
        self.longest = int(self.lengths.max()) if len(self.lengths) else 0

    def row_lines(self, n_rows: int, data: bytes) -> np.ndarray:
        """File line numbers (1-based) of the parsed rows: the non-blank lines after the header."""
        lines = np.flatnonzero(self.lengths > 0)[1:] + 1
        if len(lines) != n_rows:
            # Arrow also skipped whitespace-only lines: look for them (rare, so in Python).
            non_blank = [i + 1 for i, line in enumerate(data.decode("utf-8").split("\n")) if line.strip()]
            lines = np.array(non_blank[1:], dtype=np.int64)
        if len(lines) != n_rows:  # quoted newlines inside values: count rows instead
            lines = np.arange(2, n_rows + 2)
        return lines

    def check_field_lengths(self, text: str, max_field: int, name: str) -> None:
        """Refuse fields longer than ``max_field``: only lines that long can hold one."""
        long_lines = np.flatnonzero(self.lengths > max_field)
        if not len(long_lines):
            return
        all_lines = text.split("\n")
        offending = []
        for i in long_lines:
            line = all_lines[i].rstrip("\r")
            fields = [line] if len(line) <= max_field else (_split(line, ";") + _split(line, ","))
            if any(len(f) > max_field for f in fields):
                offending.append(i + 1)
        if offending:
            raise UserError(
                f"{name}: {plural(len(offending), 'line holds', 'lines hold')} a field longer than "
                f"{max_field:,} characters ({_lines_phrase(offending)}) — {_SHORT_FIELDS}"
            )

    def lines_with_wrong_field_count(self, text: str, delimiter: str, width: int) -> list[int]:
        """Line numbers whose field count differs from the header's (slow: error path only)."""
        bad = []
        for number, line in enumerate(text.split("\n")[1:], start=2):
            line = line.rstrip("\r")
            if line.strip() and len(_split(line, delimiter)) != width:
                bad.append(number)
        return bad


def _columns_from_frame(
    frame: pd.DataFrame, max_field: int
) -> tuple[dict[str, pa.Array], _Source, list[str]]:
    """The columns of a DataFrame submission, as the string arrays the checks work on."""
    name = "submission"
    warnings: list[str] = []
    names = [_normalise_name(str(col)) for col in frame.columns]
    missing = [col for col in REQUIRED_COLUMNS if col not in names]
    if missing:
        raise UserError(
            f"{name}: missing required {'column' if len(missing) == 1 else 'columns'} {', '.join(missing)} "
            f"(the frame has {', '.join(map(str, frame.columns)) or 'no columns'}) — expected CABBI and siret, "
            "optionally score and rank"
        )
    repeated = sorted({col for col in names if names.count(col) > 1 and col in _CANONICAL.values()})
    if repeated:
        raise UserError(f"{name}: the frame has several columns named {', '.join(repeated)}")
    unknown = [str(col) for col, norm in zip(frame.columns, names) if norm not in _CANONICAL.values()]
    if unknown:
        warnings.append(_ignored_columns(name, unknown))

    columns: dict[str, pa.Array] = {}
    for position, col in enumerate(names):
        if col not in _CANONICAL.values():
            continue
        series = frame.iloc[:, position]
        if col == "score" and pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            columns[col] = pa.array(series.astype("float64").to_numpy(), from_pandas=True)
            continue
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values = series.dropna()
            if pd.api.types.is_integer_dtype(series) or (values % 1 == 0).all():
                series = series.astype("Int64")
            if col == "siret" and pd.api.types.is_integer_dtype(series):
                # Numbers lose a SIRET's leading zeros: put them back.
                warnings.append(f"{name}: the siret column holds numbers: they were padded to 14 digits")
                arr = pc.utf8_lpad(_strings(series.astype("string")), 14, "0")
                columns[col] = arr
                continue
        columns[col] = _strings(series.astype("string"))

    src = _Source(name, "row", np.asarray(frame.index, dtype=object))
    for col, arr in columns.items():
        if pa.types.is_large_string(arr.type):
            too_long = _np_bool(pc.greater(pc.utf8_length(arr), max_field))
            if too_long.any():
                raise src.problem(
                    too_long,
                    f"{plural(int(too_long.sum()), col + ' value')} longer than {max_field:,} characters",
                    hint=_SHORT_FIELDS,
                )
    return columns, src, warnings


# --------------------------------------------------------------------------- checking


def _check(
    columns: dict[str, pa.Array], src: _Source, known_cabbi, *, decimal_comma: bool
) -> tuple[pd.DataFrame, list[str]]:
    """Check the columns row by row (vectorised) and build the submission frame.

    The first problem found is the one reported, from the most basic (a line without a CABBI)
    to the most contextual (a CABBI of another split). ``columns`` is consumed: each column is
    dropped from it once trimmed, so that a large file's untrimmed copy does not stay in memory.
    """
    warnings: list[str] = []
    trimmed, blank = {}, {}
    for col in list(columns):
        arr = columns.pop(col)
        if pa.types.is_large_string(arr.type):
            trimmed[col] = pc.utf8_trim_whitespace(pc.fill_null(arr, ""))
            blank[col] = _np_bool(pc.equal(trimmed[col], ""))
        else:  # a DataFrame's numeric score
            trimmed[col] = arr
            blank[col] = _np_bool(pc.is_null(arr, nan_is_null=True))
    # Lines whose every field is blank (the ";;" lines spreadsheets leave behind) are dropped.
    empty_row = np.logical_and.reduce(list(blank.values()))
    if empty_row.any():
        keep = pa.array(~empty_row)
        trimmed = {col: arr.filter(keep) for col, arr in trimmed.items()}
        blank = {col: mask[~empty_row] for col, mask in blank.items()}
        src = _Source(src.name, src.unit, src.labels[~empty_row])
    n = len(src.labels)
    if n == 0:
        raise UserError(
            f"{src.name}: the submission has a header but no bulletin {src.unit}s — "
            f"write one {src.unit} per bulletin, CABBI;siret"
        )

    cabbi, siret = trimmed["CABBI"], trimmed["siret"]
    if blank["CABBI"].any():
        count = int(blank["CABBI"].sum())
        raise src.problem(blank["CABBI"], f"{plural(count, src.unit)} without a CABBI", hint="each line names its bulletin")

    coded = ~blank["siret"]
    siret_or_null = pc.if_else(pa.array(coded), siret, pa.scalar(None, pa.large_string()))
    _, malformed = _siret_ints(siret_or_null)
    if malformed.any():
        count = int(malformed.sum())
        hint = _siret_hint(siret.filter(pa.array(malformed)).slice(0, 1000).to_pylist())
        what = f"{plural(count, 'SIRET is', 'SIRETs are')} not 14 digits"
        raise src.problem(malformed, what, _Examples(siret), hint)
    key_ok = np.ones(n, dtype=bool)
    key_ok[coded] = siret_keys_valid(siret.filter(pa.array(coded)))
    if not key_ok.all():
        count = int((~key_ok).sum())
        raise src.problem(
            ~key_ok,
            f"{plural(count, 'SIRET fails its', 'SIRETs fail their')} Luhn key",
            _Examples(siret),
            "check for mistyped or swapped digits",
        )

    frame_columns: dict[str, Any] = {
        "CABBI": _as_series(cabbi),
        "siret": _as_series(siret_or_null),
    }
    if "score" in trimmed:
        frame_columns["score"] = _check_score(trimmed["score"], blank["score"], coded, src, decimal_comma)
    rank = _check_rank(trimmed["rank"], src) if "rank" in trimmed else None
    if rank is not None:
        frame_columns["rank"] = rank

    codes, n_known = _check_cabbi(cabbi, src, known_cabbi)
    if rank is None:
        _check_one_line_per_bulletin(codes, cabbi, src)
    else:
        _check_distinct_ranks(codes, rank, cabbi, src)
        # A top-k list that starts at rank 2 has no coding: say so, it is likely a slip.
        with_rows = np.bincount(codes, minlength=max(n_known, 1)) > 0
        with_first = np.bincount(codes[rank == 1], minlength=len(with_rows)) > 0
        no_first = int((with_rows & ~with_first).sum())
        if no_first:
            warnings.append(
                f"{src.name}: {plural(no_first, 'bulletin has', 'bulletins have')} candidates but no rank-1 "
                "line: they count as not coded"
            )
    if known_cabbi is not None:
        absent = n_known - int((np.bincount(codes, minlength=n_known) > 0).sum())
        if absent:
            warnings.append(
                f"{src.name}: {absent:,} of the {n_known:,} bulletins are not in the submission: "
                "they count as not coded"
            )

    frame = pd.DataFrame(frame_columns)
    frame.index = pd.Index(src.labels, name="line" if src.unit == "line" else None)
    return frame, warnings


class _Examples:
    """``values[i]`` over an arrow array, converting only the few values a message quotes."""

    def __init__(self, arr: pa.Array):
        self.arr = arr

    def __getitem__(self, i) -> Any:
        return self.arr[int(i)].as_py()


def _siret_hint(bad: list[str]) -> str:
    """Why SIRETs are not 14 digits, guessed from how they look."""
    if all(v.isdigit() and len(v) < 14 for v in bad):
        return "leading zeros were probably lost (a spreadsheet read them as numbers): write SIRETs as text"
    if any("e+" in v.lower() or "." in v for v in bad):
        return "SIRETs were written as numbers: write them as 14-character text"
    return "a SIRET is the 9-digit SIREN followed by the 5-digit NIC, digits only"


def _check_score(
    arr: pa.Array, blank: np.ndarray, coded: np.ndarray, src: _Source, decimal_comma: bool
) -> np.ndarray:
    """The score column as float64: a number wherever it is given, and on every coded line."""
    if pa.types.is_floating(arr.type):
        values = arr.to_numpy(zero_copy_only=False).astype(np.float64)
    else:
        if decimal_comma:  # 0,93 from a French spreadsheet: ',' cannot be the delimiter here
            arr = pc.replace_substring(arr, ",", ".")
        given = pc.if_else(pa.array(~blank), arr, pa.scalar(None, arr.type))
        try:
            values = pc.fill_null(pc.cast(given, pa.float64()), np.nan).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            # Slow path, only when something is wrong: find which values are not numbers.
            parsed = pd.to_numeric(_as_series(given), errors="coerce").astype("Float64")
            not_number = ~blank & parsed.isna().to_numpy()
            count = int(not_number.sum())
            raise src.problem(
                not_number,
                plural(count, "score is not a number", "scores are not numbers"),
                _Examples(arr),
                "a score is a decimal number such as 0.87",
            ) from None
    # inf, -inf, nan or 1e309 would make the coverage curve meaningless: a score is a finite number.
    infinite = ~blank & ~np.isfinite(values)
    if infinite.any():
        rows = np.flatnonzero(infinite)
        raise UserError(
            f"{src.name}: {plural(len(rows), 'score is', 'scores are')} not a finite number, the first on "
            f"{src.unit} {src.labels[rows[0]]}: {_quote(_Examples(arr)[rows[0]])} — "
            "a score is a decimal number such as 0.87"
        )
    missing = coded & np.isnan(values)
    if missing.any():
        count = int(missing.sum())
        unit = f"coded {src.unit}"
        raise src.problem(
            missing,
            f"{plural(count, unit + ' has', unit + 's have')} a blank or NaN score",
            hint="every line with a SIRET needs a numeric score when the score column is given",
        )
    return values


def _check_rank(arr: pa.Array, src: _Source) -> np.ndarray:
    """The rank column as int64: whole numbers >= 1 on every line."""
    ok = _np_bool(pc.match_substring_regex(arr, "^[0-9]{1,9}$"))
    values = np.zeros(len(arr), dtype=np.int64)
    if ok.any():
        values[ok] = pc.cast(arr.filter(pa.array(ok)), pa.int64()).to_numpy()
    bad = ~ok | (values < 1)
    if bad.any():
        count = int(bad.sum())
        raise src.problem(
            bad,
            f"{plural(count, 'rank is not a whole number', 'ranks are not whole numbers')} ≥ 1",
            _Examples(arr),
            "rank 1 is the coding, 2, 3, … the next candidates",
        )
    return values


def _check_cabbi(cabbi: pa.Array, src: _Source, known_cabbi) -> tuple[np.ndarray, int]:
    """An integer code per line's CABBI (its position among the known ones, when given) and
    the number of known bulletins; a CABBI that is not among the known ones is an error."""
    if known_cabbi is None:
        return _codes(cabbi), 0
    known = _strings(known_cabbi)
    codes = _positions(cabbi, known)
    unknown = codes < 0
    if unknown.any():
        count = int(unknown.sum())
        raise src.problem(
            unknown,
            f"{plural(count, 'CABBI is not a bulletin', 'CABBI are not bulletins')} of this split",
            _Examples(cabbi),
            "check the file was made for this split's bulletins (--split)",
        )
    return codes, len(known)


def _check_one_line_per_bulletin(codes: np.ndarray, cabbi: pa.Array, src: _Source) -> None:
    """Without ranks, a CABBI given twice is ambiguous: which SIRET is the coding?"""
    counts = np.bincount(codes)
    repeated = counts[codes] > 1
    if repeated.any():
        count = int((counts > 1).sum())
        raise src.problem(
            repeated,
            f"{plural(count, 'CABBI appears', 'CABBI appear')} on more than one {src.unit}",
            _Examples(cabbi),
            "give one line per bulletin, or add a rank column for top-k candidate lists",
        )


def _check_distinct_ranks(codes: np.ndarray, rank: np.ndarray, cabbi: pa.Array, src: _Source) -> None:
    """With ranks, each (CABBI, rank) pair must be unique: sort by both, compare neighbours."""
    order = np.lexsort((rank, codes))
    same = (np.diff(codes[order]) == 0) & (np.diff(rank[order]) == 0)
    if same.any():
        repeated = np.zeros(len(codes), dtype=bool)
        repeated[order[1:][same]] = True
        repeated[order[:-1][same]] = True
        count = int(same.sum())
        raise src.problem(
            repeated,
            f"{plural(count, '(CABBI, rank) pair appears', '(CABBI, rank) pairs appear')} more than once",
            _Examples(cabbi),
            "each candidate of a bulletin needs its own rank",
        )


# --------------------------------------------------------------------------- truth


def load_truth(data_dir, split: str = "test") -> pd.DataFrame:
    """The truth of a split: ``CABBI``, ``SIRET_DEC`` and, when the files have them, ``SIRETC``
    (MCA's coding), ``TYPCOL`` and ``NOISE``.

    The test truth is ``truth_test.parquet`` joined with ``bulletins_test.parquet`` (for MCA's
    coding and the collection mode); the training truth is in ``bulletins_train.parquet``.
    """
    data_dir = Path(data_dir)
    if split not in ("test", "train"):
        raise UserError(f"unknown split {split!r}: choose test or train")
    if not data_dir.is_dir():
        raise UserError(
            f"data directory not found: {data_dir} — give the directory of the event's data with --data, "
            f"or generate one with `datathon generate --scale sample --seed 1 --out {data_dir}`"
        )
    from datathon.data import kit_directory

    data_dir = kit_directory(data_dir)  # the 2018 INSEE files: their conversion to the kit's
    if split == "train":
        path = data_dir / "bulletins_train.parquet"
        if not path.exists():
            raise UserError(f"{path} not found: is {data_dir} a data directory? (`datathon generate` writes one)")
        truth = _read_columns(path, ["CABBI", schema.TRUTH_COLUMN, "SIRETC", "TYPCOL", schema.NOISE_COLUMN])
    else:
        path = data_dir / "truth_test.parquet"
        if not path.exists():
            raise UserError(
                f"{path} not found: the test truth is kept apart by the instructor — copy truth_test.parquet "
                f"into {data_dir} to score the test split, or score against the training split with --split train"
            )
        truth = _read_columns(path, ["CABBI", schema.TRUTH_COLUMN, schema.NOISE_COLUMN])
        bulletins = data_dir / "bulletins_test.parquet"
        if bulletins.exists():
            extra = _read_columns(bulletins, ["CABBI", "SIRETC", "TYPCOL"], required=("CABBI",))
            at = _positions(_strings(truth["CABBI"]), _strings(extra["CABBI"]))
            for col in ("SIRETC", "TYPCOL"):
                if col in extra:
                    # By CABBI, not by position; reindexing at -1 gives <NA> to bulletins it lacks.
                    taken = extra[col].reset_index(drop=True).reindex(at)
                    truth[col] = taken.reset_index(drop=True)
    _check_truth_unique(truth, path)
    return truth


def _read_columns(path: Path, wanted: list[str], required=("CABBI", schema.TRUTH_COLUMN)) -> pd.DataFrame:
    """Those of ``wanted`` columns a parquet file has, in the dtypes of the schema."""
    try:
        names = pq.read_schema(path).names
        missing = [col for col in required if col not in names]
        if missing:
            raise UserError(f"{path}: missing {'column' if len(missing) == 1 else 'columns'} {', '.join(missing)}")
        table = pq.read_table(path, columns=[col for col in wanted if col in names])
    except (pa.ArrowException, OSError) as err:
        raise UserError(f"{path}: cannot be read as a parquet file ({err})") from None
    frame = table.to_pandas()
    for col in frame.columns:
        if col == "TYPCOL":
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int8")
        else:
            frame[col] = frame[col].astype("string")
            if col in (schema.TRUTH_COLUMN, "SIRETC"):
                # The schema says null; tolerate the blank strings other tools write instead.
                frame[col] = frame[col].str.strip().replace("", pd.NA)
    return frame


def _check_truth_unique(truth: pd.DataFrame, path: Path) -> None:
    codes = _codes(_strings(truth["CABBI"]))
    distinct = int(codes.max()) + 1 if len(codes) else 0
    if distinct != len(truth):
        raise UserError(f"{path}: {len(truth) - distinct:,} CABBI appear more than once in the truth")


def _register_sirets(data_dir: Path) -> np.ndarray | None:
    """The register's SIRETs as int64, or None when the data directory has no register."""
    path = data_dir / "etablissements.parquet"
    if not path.exists():
        return None
    try:
        column = pq.read_table(path, columns=["siret"]).column("siret")
    except (pa.ArrowException, OSError, KeyError):
        return None
    ints, _ = _siret_ints(column)
    return ints[ints >= 0]


# --------------------------------------------------------------------------- scoring


def _rate(numerator: int | float, denominator: int | float) -> float | None:
    """numerator / denominator as a float, None when there is nothing to divide by."""
    return float(numerator) / float(denominator) if denominator else None


def _group(n: np.ndarray, coded: np.ndarray, correct: np.ndarray) -> dict:
    """The small per-group dict: coding rate, precision, success rate and size."""
    return {
        "coding_rate": _rate(coded, n),
        "precision": _rate(correct, coded),
        "success_rate": _rate(correct, n),
        "n": int(n),
    }


def score(submission, truth: pd.DataFrame, *, register_sirets=None) -> dict:
    """Score a submission against the truth of some bulletins.

    ``submission`` is a :class:`Submission` (or a DataFrame, checked first with
    :func:`read_submission`); ``truth`` a frame as :func:`load_truth` returns it, or any subset
    of its rows. Submission lines whose CABBI is not in ``truth`` are ignored, bulletins of
    ``truth`` absent from the submission count as not coded. ``register_sirets``, when given,
    lists the register's SIRETs: a coded SIRET absent from it counts as wrong, with a warning.

    Returns the metrics (module docstring); rates are floats, or None when undefined.
    """
    if not isinstance(submission, Submission):
        submission = read_submission(submission)
    frame = submission.frame
    for col in ("CABBI", schema.TRUTH_COLUMN):
        if col not in truth.columns:
            raise UserError(f"the truth has no {col} column")
    n = len(truth)
    true, malformed = _siret_ints(truth[schema.TRUTH_COLUMN])
    if malformed.any():
        count = int(malformed.sum())
        raise UserError(f"the truth's {schema.TRUTH_COLUMN} has {count:,} values that are not 14-digit SIRETs")

    # Align the submission on the truth: row i of the submission is bulletin at[i] (-1: not scored).
    at = _positions(_strings(frame["CABBI"]), _strings(truth["CABBI"]))
    sub_siret, _ = _siret_ints(frame["siret"])
    rank = frame["rank"].to_numpy(dtype=np.int64) if "rank" in frame else np.ones(len(frame), dtype=np.int64)
    scored = at >= 0
    coding_rows = np.flatnonzero(scored & (rank == 1) & (sub_siret >= 0))
    pred = np.full(n, -1, dtype=np.int64)
    pred[at[coding_rows]] = sub_siret[coding_rows]
    coded = pred >= 0

    warnings: list[str] = []
    in_register = np.ones(n, dtype=bool)
    if register_sirets is not None:
        register = np.asarray(register_sirets)
        if register.dtype.kind not in "iu":
            register, _ = _siret_ints(register_sirets)
        coded_at = np.flatnonzero(coded)
        listed = _np_bool(pc.is_in(pa.array(pred[coded_at]), value_set=pa.array(register, type=pa.int64())))
        absent = coded_at[~listed]
        in_register[absent] = False
        if len(absent):
            cabbi = truth["CABBI"].to_numpy(dtype=object)
            examples = ", ".join(f"{pred[i]:014d} (CABBI {cabbi[i]})" for i in absent[:MAX_EXAMPLES])
            warnings.append(
                f"{plural(len(absent), 'coded SIRET is', 'coded SIRETs are')} valid but not in the register: "
                f"{'it counts' if len(absent) == 1 else 'they count'} as wrong: "
                f"{examples}{', …' if len(absent) > MAX_EXAMPLES else ''}"
            )
    # A bulletin whose truth is null cannot be coded: true == -1 never equals a coded SIRET.
    correct = coded & (pred == true) & in_register
    n_coded, n_correct = int(coded.sum()), int(correct.sum())

    result: dict[str, Any] = {
        "n_bulletins": n,
        "n_coded": n_coded,
        "n_correct": n_correct,
        "coding_rate": _rate(n_coded, n),
        "precision": _rate(n_correct, n_coded),
        "success_rate": _rate(n_correct, n),
    }
    result.update(_mca_metrics(truth, pred, true, correct, n))
    result["topk_accuracy"] = _topk(at, sub_siret, rank, true) if "rank" in frame else None
    result["coverage_at_precision"] = (
        _coverage(frame["score"].to_numpy(dtype=np.float64)[coding_rows], correct[at[coding_rows]], n)
        if "score" in frame
        else None
    )
    result["by_typcol"] = _by_typcol(truth["TYPCOL"], coded, correct) if "TYPCOL" in truth else None
    noise = truth[schema.NOISE_COLUMN] if schema.NOISE_COLUMN in truth else None
    result["by_noise"] = _by_noise(noise, coded, correct) if noise is not None else None
    result["warnings"] = warnings
    return result


def _mca_metrics(truth: pd.DataFrame, pred: np.ndarray, true: np.ndarray, correct: np.ndarray, n: int) -> dict:
    """Concordance with MCA's coding (SIRETC): agreement where both coded, and who alone is right."""
    if "SIRETC" not in truth:
        return {"mca_concordance": None, "only_team_right": None, "only_mca_right": None}
    mca, _ = _siret_ints(truth["SIRETC"])  # malformed MCA codings count as not coded
    both = (pred >= 0) & (mca >= 0)
    mca_correct = (mca >= 0) & (mca == true)
    return {
        "mca_concordance": _rate(int((both & (pred == mca)).sum()), int(both.sum())),
        "only_team_right": _rate(int((correct & ~mca_correct).sum()), n),
        "only_mca_right": _rate(int((mca_correct & ~correct).sum()), n),
    }


def _topk(at: np.ndarray, sub_siret: np.ndarray, rank: np.ndarray, true: np.ndarray) -> dict:
    """Share of codable bulletins whose true SIRET is among the candidates ranked ≤ k."""
    rows = np.flatnonzero((at >= 0) & (sub_siret >= 0))
    hits = rows[sub_siret[rows] == true[at[rows]]]
    best = np.full(len(true), np.iinfo(np.int64).max)
    np.minimum.at(best, at[hits], rank[hits])  # a SIRET may be listed twice: keep its best rank
    codable = true >= 0
    return {str(k): _rate(int((codable & (best <= k)).sum()), int(codable.sum())) for k in TOPK}


def _coverage(scores: np.ndarray, correct: np.ndarray, n: int) -> dict:
    """For each target precision, the largest share of all bulletins a score threshold keeps
    coded at that precision or better.

    Codings are sorted by score, highest first. A threshold cannot separate equal scores, so
    only prefixes ending at the last of a run of equal scores are candidates.
    """
    order = np.argsort(-scores)  # ties are grouped below: no need for a stable sort
    ranked = scores[order]
    kept = np.arange(1, len(order) + 1)
    right = np.cumsum(correct[order])
    ends = np.ones(len(order), dtype=bool)
    ends[:-1] = ranked[:-1] != ranked[1:]
    kept, right = kept[ends], right[ends]
    out = {}
    for label, hundredths in PRECISION_TARGETS.items():
        reach = kept[100 * right >= hundredths * kept]  # right / kept >= target, in integers
        out[label] = _rate(int(reach.max()) if len(reach) else 0, n)
    return out


def _bincount_groups(codes: np.ndarray, n_groups: int, coded: np.ndarray, correct: np.ndarray):
    """Bulletins, coded and correct counts per group code."""
    return (
        np.bincount(codes, minlength=n_groups),
        np.bincount(codes, weights=coded, minlength=n_groups).astype(np.int64),
        np.bincount(codes, weights=correct, minlength=n_groups).astype(np.int64),
    )


def _by_typcol(typcol: pd.Series, coded: np.ndarray, correct: np.ndarray) -> dict:
    """Metrics per collection mode: paper (0) and internet (1); 'unknown' when some lack it."""
    values = pd.to_numeric(typcol, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    codes = np.select([values == 0, values == 1], [0, 1], 2)
    n, c, r = _bincount_groups(codes, 3, coded, correct)
    out = {label: _group(n[i], c[i], r[i]) for i, label in TYPCOL_LABELS.items()}
    if n[2]:
        out["unknown"] = _group(n[2], c[2], r[2])
    return out


def _by_noise(noise: pd.Series, coded: np.ndarray, correct: np.ndarray) -> dict:
    """Metrics per noise mechanism; a bulletin with several mechanisms counts in each of them.

    The few distinct NOISE values are grouped first, then each is split into its mechanisms:
    that stays fast on a campaign's 1.7 M bulletins.
    """
    encoded = pc.dictionary_encode(pc.fill_null(_strings(noise), ""))
    combos = encoded.dictionary.to_pylist()
    n, c, r = _bincount_groups(encoded.indices.to_numpy(zero_copy_only=False), len(combos), coded, correct)
    totals: dict[str, np.ndarray] = {}
    for i, combo in enumerate(combos):
        mechanisms = {m.strip() for m in combo.split("|") if m.strip()} or {CLEAN}
        for mechanism in mechanisms:
            totals[mechanism] = totals.get(mechanism, 0) + np.array([n[i], c[i], r[i]])
    ordered = sorted(totals, key=lambda m: (m != CLEAN, m))
    return {m: _group(*totals[m]) for m in ordered}


# --------------------------------------------------------------------------- directory


def score_directory(
    submission_path, data_dir, split: str = "test", *, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict:
    """Read a submission file, check it against the split's bulletins, and score it.

    The register (``etablissements.parquet``), when the directory has it, is used to flag valid
    SIRETs that name no establishment. Warnings of reading and scoring are under ``"warnings"``.
    """
    truth = load_truth(data_dir, split)
    submission = read_submission(submission_path, known_cabbi=truth["CABBI"], max_bytes=max_bytes)
    from datathon.data import kit_directory

    result = score(submission, truth, register_sirets=_register_sirets(kit_directory(data_dir)))
    result["warnings"] = submission.warnings + result["warnings"]
    return result


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def format_summary(result: dict) -> str:
    """The metrics as an aligned, readable text block (what ``datathon score`` prints).

    Warnings come first and a one-line summary next, so that neither hides below the breakdown."""
    head = [f"warning: {w}" for w in result.get("warnings") or []]
    head.append(f"success rate {_percent(result['success_rate']).strip()} · precision "
                f"{_percent(result['precision']).strip()} · coding rate {_percent(result['coding_rate']).strip()}"
                f" on {result['n_bulletins']:,} bulletins")
    rows = [
        ("bulletins", f"{result['n_bulletins']:,}"),
        ("coded", f"{result['n_coded']:,}"),
        ("correct", f"{result['n_correct']:,}"),
        ("coding rate", _percent(result["coding_rate"])),
        ("precision", _percent(result["precision"])),
        ("success rate", _percent(result["success_rate"])),
    ]
    if result.get("mca_concordance") is not None or result.get("only_team_right") is not None:
        rows += [
            ("MCA concordance", _percent(result["mca_concordance"])),
            ("only team right", _percent(result["only_team_right"])),
            ("only MCA right", _percent(result["only_mca_right"])),
        ]
    for k, value in (result.get("topk_accuracy") or {}).items():
        rows.append((f"top-{k} accuracy", _percent(value)))
    for target, value in (result.get("coverage_at_precision") or {}).items():
        rows.append((f"coverage at precision {target}", _percent(value)))
    width = max(len(label) for label, _ in rows)
    lines = [*head, ""] + [f"{label:<{width}}  {value:>9}" for label, value in rows]
    breakdowns = (("by collection mode", result.get("by_typcol")), ("by noise mechanism", result.get("by_noise")))
    for title, groups in breakdowns:
        if not groups:
            continue
        lines.append("")
        lines.append(f"{title}:")
        name_width = max(len(g) for g in groups)
        for group, m in groups.items():
            lines.append(
                f"  {group:<{name_width}}  coding {_percent(m['coding_rate']):>8}"
                f"  precision {_percent(m['precision']):>8}"
                f"  success {_percent(m['success_rate']):>8}  (n = {m['n']:,})"
            )
    return "\n".join(lines)
