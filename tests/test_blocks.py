"""Tests for tagger.blocks: an input's blocks found from any byte offset are the blocks found reading
it from the start, each reads the same text either way, and the text is what Python's UTF-8
decoder ("replace") makes of the bytes, whatever the bytes and however small the pieces read."""

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from tagger.blocks import BlockReader, block_starts, blocks

PIECES = st.sampled_from(["a", "bb\n", "\n", "\r\n", " \n", "é", "xxxxxxx", "\n\n", "ÿ", "日本"])
DATA = st.one_of(st.lists(PIECES, max_size=40).map(lambda p: "".join(p).encode()),
                 st.binary(max_size=60))


def read_all(reader, size):
    text = []
    while piece := reader.readline(size):
        text.append(piece)
    return "".join(text)


@settings(max_examples=800, deadline=None)
@given(data=DATA, block_bytes=st.integers(1, 16), split=st.sampled_from(["sentences", "lines"]),
       size=st.integers(1, 8))
def test_blocks_found_from_any_offset_are_those_read_from_the_start(data, block_bytes, split,
                                                                    size):
    found, texts = [], []
    for reader in blocks(io.BytesIO(data), split, block_bytes):
        found.append((reader.block.start, reader.block.chars))
        texts.append(read_all(reader, size))
    whole = data.decode("utf-8", "replace")
    assert "".join(texts) == whole
    assert block_starts(io.BytesIO(data), len(data), split, block_bytes) == [
        start for start, _ in found if start < len(data) or start == 0]
    for (start, chars), text in zip(found, texts):
        assert whole[chars:chars + len(text)] == text
        raw = io.BytesIO(data)
        raw.seek(start)  # a process handed this block alone reads the same text
        assert read_all(BlockReader(raw, split, start, chars, block_bytes), size) == text


def test_blocks_end_after_an_empty_line_past_each_multiple_of_the_block_size():
    data = b"one\ntwo\n\nthree\n \nfour\n\nfive\r\n\r\nsix\n"
    starts = block_starts(io.BytesIO(data), len(data), "sentences", block_bytes=4)
    assert [data[s:s + 4] for s in starts] == [b"one\n", b"thre", b"five", b"six\n"]
    # a line of spaces ends a paragraph, not a block; by lines, every line end may end one
    starts = block_starts(io.BytesIO(data), len(data), "lines", block_bytes=10)
    assert [data[s:s + 4] for s in starts] == [b"one\n", b" \nfo", b"\nfiv", b"six\n"]
    assert block_starts(io.BytesIO(b"no empty line " * 10), 140, "sentences", 16) == [0]
