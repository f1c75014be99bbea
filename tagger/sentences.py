"""Running text to sentences of tokens, each token with its character span in the text.

Text is read as paragraphs, lines up to a blank line, so that hard-wrapped prose reads as the prose
it is; each paragraph is split into sentences by syntok's segmenter, chosen by measurement
(docs/splitting.md), and each sentence into the treebank's tokens (tagger.text). `split="lines"`
reads each line as one sentence instead, for text already split; `tokenized=True` reads each line
as tokens separated by whitespace.

Input of any size streams through in windows (`windows`): runs of whole paragraphs (or lines) of
at most about `chars` characters, each cut where a paragraph (or line) ends, so memory stays
bounded. A paragraph longer than that, a whole book without a blank line, is cut at a sentence
boundary. Spans count characters (code points) from the start of the input, whichever window a
sentence comes in.
"""

import io
import re
from dataclasses import dataclass
from typing import Iterator, TextIO

from tagger.text import EMOTICON, WEB_TOKEN, tokenize_spans

SPLITS = ("sentences", "lines")

# A window closes at the first paragraph (or line) end after this many lines, or after this many
# characters: enough for well-filled, length-sorted batches, little enough to bound memory.
WINDOW_LINES = 10_000
WINDOW_CHARS = 4_000_000
# Lines are read in pieces of at most about this many characters, so that a gigabyte without a
# line break is never held whole.
PIECE_CHARS = 1 << 20

# A line holding nothing but spaces ends a paragraph.
PARAGRAPH_GAP = re.compile(r"\n(?:[^\S\n]*\n)+")
NEWLINE = re.compile(r"\n")
SPACES = re.compile(r"\s*")
WORD = re.compile(r"\w")
_LEADING_EMOTICONS = re.compile(rf"(?:\s*{EMOTICON.pattern})*")
TOKEN = re.compile(r"\S+")
# Lone surrogates: JSON strings may hold them, but they cannot be written back as UTF-8.
SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass
class Window:
    """A run of the input's text: whole lines, and whole paragraphs unless a paragraph was longer
    than a window (`continued`: it began in the window before)."""
    text: str
    offset: int = 0  # characters of the input before it
    continued: bool = False


@dataclass
class Sentence:
    tokens: list[str]  # the input's own characters of each token
    forms: list[str]  # the treebank's tokens, which the model reads (`` for “, n't for n’t)
    spans: list[tuple[int, int]]  # [start, end) of each token in the input
    text: str  # the sentence as written, from its first token to its last
    paragraph: bool = False  # whether it opens a paragraph
    space_at_end: bool = True  # whether whitespace (or the end of the input) follows it

    def space_after(self) -> list[bool]:
        """Whether whitespace follows each token in the input (CoNLL-U's SpaceAfter)."""
        first = self.spans[0][0] if self.spans else 0
        return [self.text[e - first].isspace() for _, e in self.spans[:-1]] + \
            [self.space_at_end] * bool(self.spans)


def windows(stream: TextIO, split="sentences", lines=WINDOW_LINES, chars=WINDOW_CHARS,
            offset=0) -> Iterator[Window]:
    """The text of `stream` (a text file: its `readline` is read), which starts at character
    `offset` of the input, in windows that end where a line (`split="lines"`) or a paragraph
    ends, once `lines` lines or `chars` characters are in. A line is never cut in the lines mode;
    a paragraph over `chars` characters is, at a sentence start. Lazy: a window is handed on as
    soon as it is complete."""
    held, size, count, cut, continued = [], 0, 0, 0, False
    blank = True  # whether the line being read holds only spaces so far
    for piece in iter(lambda: stream.readline(PIECE_CHARS), ""):
        held.append(piece)
        size += len(piece)
        blank = blank and not piece.strip()
        if piece.endswith("\n"):
            count += 1
            if split == "lines" or blank:
                cut = size  # a window may end here
            blank = True
        while (count >= lines or size >= chars) and (cut or split == "sentences" and size >= chars):
            whole = "".join(held)
            ends_paragraph, cut = bool(cut), cut or _sentence_cut(whole)
            yield Window(whole[:cut], offset, continued)
            continued = split == "sentences" and not ends_paragraph
            held, offset = [whole[cut:]], offset + cut
            size, count, cut = len(held[0]), held[0].count("\n"), 0
    if size:
        yield Window("".join(held), offset, continued)


def _sentence_cut(held: str) -> int:
    """Where to cut a paragraph too long for a window: at the start of its last sentence (which
    may go on beyond what is held), else after the last space, else anywhere."""
    starts = [start for start, _ in split_sentences(held)]
    if len(starts) > 1:
        return starts[-1]
    space = held.rfind(" ", 0, len(held) - 1)
    return space + 1 if space > 0 else len(held)


def paragraphs(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """The (start, end) of each paragraph of text[start:end], lines up to a blank one, without the
    spaces around it."""
    end = len(text) if end is None else end
    found = []
    for gap in PARAGRAPH_GAP.finditer(text, start, end):
        found.append(_strip(text, start, gap.start()))
        start = gap.end()
    found.append(_strip(text, start, end))
    return [(s, e) for s, e in found if s < e]


def _strip(text, start, end):
    """(start, end) without the spaces at either end of text[start:end]."""
    start = SPACES.match(text, start, end).end()
    return start, start + len(text[start:end].rstrip())


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """The (start, end) of each sentence of the paragraph text[start:end], by syntok's segmenter.
    It reads web tokens as the words they are (syntok cuts `https://example.com/a?b=1` at its
    `?`, and misses the end of a sentence after it), and a run of nothing but emoticons or
    punctuation (`:)`, `...`) stays with the sentence before it."""
    from syntok import segmenter

    end = len(text) if end is None else end
    # A line break in a paragraph is only a space (syntok reads it as a hint of a boundary), a web
    # token a word of as many letters, an emoticon as many dots (it may end a sentence), so that
    # the offsets stay the text's.
    plain = WEB_TOKEN.sub(_stand_in, text[start:end].replace("\n", " "))
    starts = [s[0].offset for part in segmenter.analyze(plain) for s in part if s] or [0]
    # Emoticons that open a sentence close the one before it: `He answers! :) Bye.`
    starts = [_LEADING_EMOTICONS.match(text, start + s, end).end() - start if k else s
              for k, s in enumerate(starts)]
    found = []
    for s, e in zip(starts, starts[1:] + [len(plain)]):
        s, e = _strip(plain, s, e)
        if found and s < e and not WORD.search(text, start + s, start + e):
            found[-1] = (found[-1][0], e)  # `...` ends the sentence before it
        elif s < e:
            found.append((s, e))
    return [(start + s, start + e) for s, e in found]


def _stand_in(web_token: re.Match) -> str:
    token = web_token.group()
    return ("." if EMOTICON.fullmatch(token) else "x") * len(token)


def read(window: Window, split="sentences", tokenized=False) -> list[Sentence]:
    """The sentences of a window, each with its tokens, their treebank forms and their spans in
    the input. By lines (`split="lines"` or `tokenized`), every line is a sentence, an empty one
    included; by sentences, the paragraphs' sentences."""
    text, offset = window.text, window.offset
    if tokenized or split == "lines":
        starts = [0] + [m.end() for m in NEWLINE.finditer(text)]
        if starts[-1] == len(text) and len(starts) > 1:
            starts.pop()  # the last line's "\n" ends it; no line follows
        bounds = [(s, _line_end(text, s)) for s in starts]
        return [_sentence(text, offset, s, e, tokenized, False) for s, e in bounds]
    sentences = []
    for number, (start, end) in enumerate(paragraphs(text)):
        for k, (s, e) in enumerate(split_sentences(text, start, end)):
            opens = k == 0 and not (number == 0 and window.continued)
            sentences.append(_sentence(text, offset, s, e, False, opens))
    return sentences


def _line_end(text, start):
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _sentence(text, offset, start, end, tokenized, paragraph) -> Sentence:
    if tokenized:
        spans = [m.span() for m in TOKEN.finditer(text, start, end)]
        tokens = forms = [text[s:e] for s, e in spans]
    else:
        tokens, forms, spans = tokenize_spans(text, start, end)
    last = spans[-1][1] if spans else end
    written = text[spans[0][0]:last] if spans else ""
    if offset:
        spans = [(s + offset, e + offset) for s, e in spans]
    return Sentence(tokens, forms, spans, written, paragraph,
                    last == len(text) or text[last].isspace())


def read_text(text: str, split="sentences", tokenized=False) -> list[Sentence]:
    """The sentences of a text held whole (an API call's, a request's), empty ones left out."""
    return [s for window in windows(io.StringIO(text), split) for s in read(window, split, tokenized)
            if s.tokens]


def without_surrogates(text: str) -> str:
    """The text with U+FFFD for each lone surrogate (JSON allows them; UTF-8 cannot carry them)."""
    return SURROGATES.sub("\ufffd", text)
