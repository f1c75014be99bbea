"""Input in blocks: byte ranges of a file that end where a paragraph (or a line) ends, found from any
byte offset, so that a file reads alike whole, from the start, or in pieces on many machines.

Block k of an input starts at the first paragraph start at or after byte k x BLOCK_BYTES: the end
of the first empty line there or after it (by lines, the first line start); block 0 at byte 0. A
machine handed byte k x BLOCK_BYTES so finds its block without reading what comes before it, and
two neighbouring blocks meet where a paragraph ends. `python -m tagger.tag` reads every input
block by block, and tagger.bulk hands the blocks of large files to many processes: a block's
windows (tagger.sentences.windows), and so its output, are the same either way.

Only empty lines (`\\n\\n`, `\\n\\r\\n`) end blocks: a line of spaces, which ends a paragraph too, would
need the bytes before it to be seen. A file without one (a book in one paragraph, one sentence a
line) is one block, read in one piece with bounded memory; by lines, any line end ends a block.
"""

import codecs
from dataclasses import dataclass
from typing import BinaryIO, Iterator

BLOCK_BYTES = 16 << 20
# Lines are read in pieces of at most this many bytes, so that a gigabyte without a line break is
# never held whole.
PIECE_BYTES = 1 << 20


@dataclass
class Block:
    """Where a block starts in its input: bytes, and characters as decoded."""
    start: int
    chars: int


class BlockReader:
    """The text of an input's blocks, as a text file gives it (`readline`), one block at a time:
    `readline` returns "" at a block's end, `next_block()` moves on to the next block (None at
    the input's end). UTF-8; bytes that are not UTF-8 read as U+FFFD, as Python's "replace" has
    it. `start`, `chars`: where `raw` is, in bytes and characters; a block must start there."""

    def __init__(self, raw: BinaryIO, split="sentences", start=0, chars=0,
                 block_bytes=BLOCK_BYTES):
        self.raw, self.by_lines, self.block_bytes = raw, split == "lines", block_bytes
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.position, self.chars = start, chars
        self.last_end = start  # the last place a block may end, for the rule
        self.ended = self.at_eof = False
        self.line_start = True  # whether the last piece ended a line
        self.block = Block(start, chars)

    def readline(self, size=PIECE_BYTES) -> str:
        """A line of the block, or a piece of about `size` bytes of one; "" at its end only."""
        text = ""
        while not (text or self.ended):  # a piece may end inside a character: read on
            text = self._piece(size)
        return text

    def _piece(self, size) -> str:
        piece = self.raw.readline(max(3, size))  # an empty line ("\r\n") read whole
        if not piece:
            self.ended = self.at_eof = True
            text = self.decoder.decode(b"", final=True)
        else:
            start, self.position = self.position, self.position + len(piece)
            whole_line = piece.endswith(b"\n")
            self.ended = whole_line and self._ends_block(piece, start)
            self.line_start = whole_line
            text = self.decoder.decode(piece)
        self.chars += len(text)
        return text

    def _ends_block(self, line, start) -> bool:
        # Where a block may end: after any line (by lines), or after an empty line. It ends at
        # the first such place at or after a multiple of block_bytes.
        if not (self.by_lines or (self.line_start and start > 0 and line in (b"\n", b"\r\n"))):
            return False
        last, self.last_end = self.last_end, self.position
        return self.position // self.block_bytes > last // self.block_bytes

    def next_block(self) -> Block | None:
        """The next block's start, this one read to its end first; None after the last."""
        while self.readline():
            pass
        if self.at_eof:
            return None
        self.ended = False
        self.block = Block(self.position, self.chars)
        return self.block


def blocks(raw: BinaryIO, split="sentences", block_bytes=None) -> Iterator[BlockReader]:
    """The blocks of `raw`, read from its start: each time the same reader, at the next block
    (read each to its end, or not: the next is found all the same)."""
    reader = BlockReader(raw, split, block_bytes=block_bytes or BLOCK_BYTES)
    yield reader
    while reader.next_block() is not None:
        yield reader


def block_starts(raw: BinaryIO, size: int, split="sentences",
                 block_bytes=BLOCK_BYTES) -> list[int]:
    """The byte offsets where the blocks of a seekable input of `size` bytes start, each found by
    reading on from a multiple of block_bytes (tagger.bulk's plan of a large file)."""
    starts = [0]
    for k in range(1, (size - 1) // block_bytes + 1 if size else 0):
        found = _boundary(raw, k * block_bytes, split)
        if found is None:
            break
        if starts[-1] < found < size:
            starts.append(found)
    return starts


def _boundary(raw, at, split) -> int | None:
    """The first place at or after byte `at` where a block may start; None if none is left."""
    patterns = (b"\n",) if split == "lines" else (b"\n\n", b"\n\r\n")
    base = max(0, at - 3)  # a pattern may begin up to 3 bytes before `at`
    raw.seek(base)
    data = b""
    while chunk := raw.read(PIECE_BYTES):
        data += chunk
        ends = [base + i + len(p) for p in patterns
                if (i := data.find(p, max(0, at - base - len(p)))) >= 0]
        if ends:
            return min(ends)
        base, data = base + len(data) - 2, data[-2:]  # a pattern may straddle two reads
    return None
