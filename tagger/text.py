"""Real text to the treebank's tokens: a tokenizer, and the forms the training data writes.

The Penn Treebank is ASCII with conventions of its own: brackets are `-LRB-`, `-RRB-`, `-LCB-`...,
quotes are ``` `` ``` and `''`, a dash is `--`, an ellipsis `...`. Text people type has `(`, curly
quotes, `–`, `…` and non-breaking spaces, which a model trained on the treebank has never seen:
it tagged `(` as CD and kept `“hello”` as one noun. So raw text is tokenized the treebank's way
after its typographic characters are spelled as the treebank spells them (`tokenize`), and every
token a model reads, from a file, `--tokenized` input or a corpus, is looked up by its treebank
form (`treebank_forms`), while the user's tokens are what is printed.
"""

import re
from functools import cache

# Single tokens whatever their context: dashes, ellipses, and brackets of every kind, read as the
# round ones: the treebank tags them all -LRB-/-RRB-, but its text has few curly (-LCB-) and no
# square ones, so the model knows the round ones best.
TOKEN_FORMS = {
    "(": "-LRB-", ")": "-RRB-", "[": "-LRB-", "]": "-RRB-", "{": "-LRB-", "}": "-RRB-",
    "-LSB-": "-LRB-", "-RSB-": "-RRB-", "-LCB-": "-LRB-", "-RCB-": "-RRB-",
    "“": "``", "„": "``", "«": "``", "”": "''", "»": "''", "‘": "`", "‚": "`",
    "–": "--", "—": "--", "―": "--", "−": "-", "…": "...",
    "-": "--",  # a hyphen standing alone is a dash
}
# Tokenizers that split at every apostrophe leave `it ’ s`, `don ’ t`: after an apostrophe, these
# are the clitics the treebank writes whole.
CLITICS = {"s": "'s", "t": "n't", "d": "'d", "m": "'m", "ll": "'ll", "re": "'re", "ve": "'ve"}
APOSTROPHES = {"'", "’"}
# Characters inside a token: curly apostrophes (`don’t`, `’s`), dashes inside words.
CHAR_FORMS = str.maketrans({"’": "'", "‘": "'", "–": "-", "—": "--", "…": "...",
                            "\u00a0": " ", "\u00ad": ""})
# Every Unicode space (no-break, thin, ideographic...) separates tokens as a space does.
SPACES = re.compile(r"[^\S\n]")
# In running text, curly quotes and dashes become the ASCII the tokenizer knows, with their side:
# an opening curly quote stays an opening quote wherever it stands.
TEXT_FORMS = [
    # (a closing quote goes on its word: the tokenizer reads `''` after a space as opening)
    (re.compile(r"[“„«]"), " `` "), (re.compile(r"\s*[”»]"), "'' "),
    (re.compile(r"(?<=\w)[’'](?=\w)"), "'"),        # an apostrophe inside a word
    (re.compile(r"‘"), " ` "), (re.compile(r"’"), " ' "),
    (re.compile(r"(?<=\w)–(?=\w)"), "-"),           # an en dash inside a word or a range
    (re.compile(r"\s*[—―–]\s*|--"), " -- "),        # a dash between words
    (re.compile(r"…"), " ... "),
]


@cache
def _tokenizer():
    # Imported on first use: NLTK takes seconds to import, and reading tokens needs none of it.
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def tokenize(line: str) -> list[str]:
    """Penn Treebank tokens of a line of text, typographic characters included:
    `He said “hello” (twice)…` -> `He said `` hello '' ( twice ) ...`."""
    line = SPACES.sub(" ", line.replace("\u00ad", ""))
    for pattern, replacement in TEXT_FORMS:
        line = pattern.sub(replacement, line)
    return _tokenizer().tokenize(line)


def treebank_forms(tokens: list[str]) -> list[str]:
    """The form under which the model knows each token: `(` is `-LRB-`, `“` is ```` `` ````,
    `don’t` is `don't`. A straight `"` has no side, so the sentence's first is read as opening,
    the next as closing, and so on, as the treebank's tokenizer does; `s` after an apostrophe
    token is `'s`."""
    forms, quotes = [], 0
    for k, token in enumerate(tokens):
        form = TOKEN_FORMS.get(token)
        if form is None and k and tokens[k - 1] in APOSTROPHES:
            form = CLITICS.get(token.lower())
        if form is None:
            if token == '"':
                form = "``" if quotes % 2 == 0 else "''"
                quotes += 1
            else:
                form = token.translate(CHAR_FORMS) or token
        forms.append(form)
    return forms
