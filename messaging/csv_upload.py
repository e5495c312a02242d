"""A recipients CSV as uploaded (API and dashboard), checked before it reaches
`bulk.read_recipients`: text, not binary; readable as CSV; not too large."""

from __future__ import annotations

import csv
import io
import re
from typing import IO

MAX_CSV_BYTES = 5 * 1024 * 1024
# C0 controls other than tab, newline and carriage return: a sign of a binary file.
BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NOT_TEXT = "The file is not text (it holds binary data); upload a CSV (UTF-8)."


class BadCsv(ValueError):
    """The upload cannot be read as a recipients CSV; the message says why."""


def recipients_csv_text(upload: IO[bytes] | bytes, max_bytes: int = MAX_CSV_BYTES) -> str:
    """The upload as CSV text (UTF-8, with or without BOM; Windows-1252 as a fallback for
    spreadsheets saved the old way). Raises BadCsv with a message for the user."""
    data = upload if isinstance(upload, bytes) else upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BadCsv(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise BadCsv(NOT_TEXT) from None
    if BINARY.search(text):
        raise BadCsv(NOT_TEXT)
    try:
        for _row in csv.reader(io.StringIO(text)):
            pass
    except csv.Error as exc:
        raise BadCsv(f"The file is not a readable CSV: {exc}.") from None
    return text
