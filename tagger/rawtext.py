"""Raw, untagged English text as sentences of tokens: NLTK's raw-text corpora by name, or plain-text
files, read as tagging reads text (sentences split, then the treebank's tokens: tagger.sentences,
tagger.text). tagger.pretrain learns from such text; tagger.distill has a teacher tag it.

The everyday corpora (reviews, pros and cons, opinions, web forums) come with a little markup of
their own (product_reviews' `feature[+2]##`, pros_cons' `<Pros>`), which is taken off first.
"""

import re
from pathlib import Path

from tagger import text
from tagger.errors import TaggerError
from tagger.sentences import split_sentences

# The raw-text corpora NLTK packages: name -> the package `nltk.downloader` installs.
NLTK_TEXTS = {"abc": "abc", "state_union": "state_union", "brown": "brown", "treebank": "treebank",
              "movie_reviews": "movie_reviews", "webtext": "webtext",
              "product_reviews_1": "product_reviews_1", "product_reviews_2": "product_reviews_2",
              "pros_cons": "pros_cons", "sentence_polarity": "sentence_polarity",
              "subjectivity": "subjectivity"}

# Everyday English, as people write it about things they use and see: what tagger.distill has
# a teacher tag by default (1.3M tokens). movie_reviews (1.5M tokens of one genre, in lower case
# like sentence_polarity) is left to be asked for.
EVERYDAY = ("product_reviews_1", "product_reviews_2", "pros_cons", "sentence_polarity",
            "subjectivity", "webtext")

HEADER = re.compile(r"\*")
# A product review's line may hold more sentences, each after its own annotations
# ("  router[+2] ##", "detail[-1],color rendition[-1][cc]##"), or annotations with no "##"
# ("price[-1][u]I bought it"): taken out of the text that the line's markup kept.
FEATURE = r"(?:[\w'/&.-]+ ){0,3}[\w'/&.-]*\[[+-]?\d*[\]}](?:\[[a-z]{1,2}\])*[ ,]*"
LATER = re.compile(rf"(?:{FEATURE})*##|^(?:{FEATURE.replace('[+-]?', '[+-]')})+#?")
# "[t]" a review's title; "feature[+2]##sentence"; "*" header lines
REVIEW = re.compile(r"(?:\[t\])?(?:[^#]*##)?(?P<text>.*)")
# Each corpus's markup: around a line's text (the part to keep is the group "text"), and within
# it (taken out), or None.
MARKUP = {
    "product_reviews_1": (REVIEW, LATER),
    "product_reviews_2": (REVIEW, LATER),
    "pros_cons": (re.compile(r"\s*<(?:Pros|Cons)>(?P<text>.*?)</(?:Pros|Cons)>\s*"), None),
}


def read_text(name: str):
    """Sentences (lists of tokens) of an NLTK corpus named in NLTK_TEXTS, or of a text file."""
    from tagger import data

    if name in NLTK_TEXTS:
        data.require_nltk(f"corpora/{name}", NLTK_TEXTS[name])
        import nltk.corpus

        corpus = getattr(nltk.corpus, name)
        if name in ("brown", "treebank"):  # already tokenized; the tags are not read
            yield from corpus.sents()
            return
        # product_reviews' README.txt explains the markup: it is no review.
        lines = (line for fileid in corpus.fileids() if not fileid.upper().startswith("README")
                 for line in corpus.raw(fileid).splitlines())
        lines = _without_markup(name, lines)
    elif Path(name).is_file():
        lines = _lines(Path(name))
    else:
        raise TaggerError(f"--text '{name}' is neither an NLTK corpus ({', '.join(NLTK_TEXTS)}) "
                          "nor an existing file; check the name")
    # The Penn Treebank's own tokenization (n't, 's, ``), so raw tokens match tagged ones; lines
    # holding several sentences are split first, as tagging splits text (the tokenizer separates
    # only a final period).
    for line in lines:
        for start, end in split_sentences(line):
            tokens = text.tokenize(line[start:end])
            if tokens:
                yield tokens


def _without_markup(name, lines):
    if name not in MARKUP:
        yield from lines
        return
    around, within = MARKUP[name]
    for line in lines:
        found = None if HEADER.match(line) else around.fullmatch(line)
        if found:
            yield within.sub(" ", found["text"]) if within else found["text"]


def _lines(path: Path):
    with open(path, encoding="utf-8", errors="replace") as f:
        yield from f
