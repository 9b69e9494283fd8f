"""Cutting an archive into blocks of whole rows: the one cutter, for the local scorer and the Dask run.

A CSV row ends at a newline outside quotes: RFC 4180 doubles a quote inside a quoted field, so a
newline ends a row exactly when an even number of quotes come before it. Counting quotes is a
C loop over bytes (``bytes.count``), so the process that cuts is never the bottleneck; parsing
(``csv``) happens where a block is scored. A JSON line cannot hold a raw newline: each one ends
a row. Hand-written because no library cuts a byte stream at RFC 4180 row ends without parsing
every row (which, in the one process that reads the file, would cap the rate of every core).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

MAX_ROW_BYTES = 64 << 20  # a longer row is an error (an unterminated quote?): memory stays bounded
BOM = b"\xef\xbb\xbf"  # UTF-8 byte-order mark: Excel's "CSV UTF-8" starts with one


class ArchiveError(ValueError):
    """The archive cannot be read as asked (unknown format, no text column…); the message says why."""


def refuse_existing(target: object, exists: bool, overwrite: bool) -> None:
    """The one rule for a TARGET that exists, local run or cluster: refused unless ``overwrite``.

    >>> refuse_existing("scored.csv", exists=True, overwrite=False)
    Traceback (most recent call last):
    hatespeech.archive.blocks.ArchiveError: scored.csv exists: pass --overwrite to replace it, or give another TARGET
    """
    if exists and not overwrite:
        raise ArchiveError(f"{target} exists: pass --overwrite to replace it, or give another TARGET")


def _row_end(block: bytes, kind: str, last: bool = True) -> int:
    """Just after the last (or first) newline in ``block`` that ends a row; 0 if none does.

    ``block`` starts at a row's start. In a CSV a newline ends a row unless it is inside a quoted
    field, that is unless an odd number of quotes precede it (RFC 4180 doubles quotes inside
    quoted fields). A JSON line cannot hold a raw newline: every newline ends one.
    """
    if kind != "csv":
        return block.rfind(b"\n") + 1 if last else block.find(b"\n") + 1
    total = block.count(b'"')
    end = block.rfind(b"\n") if last else block.find(b"\n")
    while end >= 0:
        if (total - block.count(b'"', end)) % 2 == 0:
            return end + 1
        end = block.rfind(b"\n", 0, end) if last else block.find(b"\n", end + 1)
    return 0


def row_blocks(raw: IO[bytes], kind: str, size: int, carry: bytes = b"") -> Iterator[bytes]:
    """The rest of ``raw`` (after ``carry``, already read) in blocks of whole rows, about ``size`` bytes each.

    Raises ``ArchiveError`` when the CSV ends inside a quoted field (an unterminated quote would
    otherwise swallow every row after it into one), or when a row grows past ``MAX_ROW_BYTES``
    (memory stays bounded whatever the file holds).
    """
    while True:
        data = raw.read(size)
        if not data:
            if carry:
                if kind == "csv" and carry.count(b'"') % 2:
                    raise ArchiveError(
                        "the CSV ends inside a quoted field: a quote is never closed in the row "
                        f"{_excerpt(carry[_row_end(carry, kind) :])}, which would swallow every row after it"
                    )
                yield carry  # the last row, without a newline at its end
            return
        block = carry + data
        cut = _row_end(block, kind)
        if cut == 0:  # no row ends in it yet (a very long row): read on
            if len(block) > MAX_ROW_BYTES:
                raise ArchiveError(
                    f"a row is longer than {MAX_ROW_BYTES >> 20} MiB ({_excerpt(block)}): "
                    + ("is a quote never closed?" if kind == "csv" else "are its lines ended with CR alone?")
                )
            carry = block
            continue
        yield block[:cut]
        carry = block[cut:]


def _excerpt(data: bytes) -> str:
    return "starting " + repr(data[:40].decode("utf-8", "replace")) + ("…" if len(data) > 40 else "")


def read_start(raw: IO[bytes], kind: str, size: int, name: object = "the archive") -> tuple[int, bytes, bytes]:
    """Read the archive's start: ``(bytes skipped, header row, what was read after it)``.

    Skips a UTF-8 byte-order mark (Excel's "CSV UTF-8" starts with one). The header row is a
    CSV's first row (``b""`` for JSON Lines). Raises ``ArchiveError`` if the first row ends with a
    bare CR (old Mac line endings): rows are cut at LF, so such a file would read as one row.
    """
    data = raw.read(max(size, len(BOM)))
    skipped = len(BOM) if data.startswith(BOM) else 0
    data = data[skipped:]
    while True:
        cut = _row_end(data, kind, last=False)
        if _bare_cr(data[: cut or len(data)], kind):
            raise ArchiveError(
                f"{name}: its rows end with a carriage return alone (CR, old Mac style): rows must end with "
                "LF or CRLF; save it again with Unix or Windows line endings"
            )
        more = b"" if cut else raw.read(size)
        if not more:
            break
        data += more
        if len(data) > MAX_ROW_BYTES:
            raise ArchiveError(f"{name}: its first row is longer than {MAX_ROW_BYTES >> 20} MiB ({_excerpt(data)})")
    if kind != "csv":
        return skipped, b"", data
    cut = cut or len(data)
    return skipped, data[:cut], data[cut:]


def _bare_cr(row: bytes, kind: str) -> bool:
    """Whether ``row`` (one row, or the start of one) holds a CR that ends a row: not before LF, not in quotes."""
    at = row.find(b"\r")
    while 0 <= at < len(row) - 1:  # a CR last in what was read may yet be followed by LF
        if row[at + 1] != 10 and (kind != "csv" or row.count(b'"', 0, at) % 2 == 0):
            return True
        at = row.find(b"\r", at + 1)
    return False
