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
    # (`(?<!\s)`: a run of spaces is tried from its start only, so a long run is read once)
    (re.compile(r"[“„«]"), " `` "), (re.compile(r"(?<!\s)\s*[”»]"), "'' "),
    (re.compile(r"(?<=\w)[’'](?=\w)"), "'"),        # an apostrophe inside a word
    (re.compile(r"‘"), " ` "), (re.compile(r"’"), " ' "),
    (re.compile(r"(?<=\w)–(?=\w)"), "-"),           # an en dash inside a word or a range
    (re.compile(r"(?<!\s)\s*[—―–]\s*|--"), " -- "),  # a dash between words
    (re.compile(r"…"), " ... "),
]


# The Penn Treebank's tokenization rules (its tokenizer.sed, as NLTK's `word_tokenize` extends
# them in `nltk.tokenize.destructive.NLTKWordTokenizer`, Apache 2.0), applied in order, each a
# (pattern, replacement) that pads a token with spaces. Restated here rather than imported:
# importing NLTK takes 2-3 s (its package imports scipy.stats and scikit-learn), more than the
# rest of tagging a sentence from the command line. tests/test_text.py holds them to NLTK's tokens.
_CLOSERS = r"[\]\)}>\"'»”’ ]"
PTB_RULES = [(re.compile(pattern), replacement) for pattern, replacement in [
    # opening quotes: typographic ones, backquotes, a " at the start or after a space or bracket
    (r"([«“‘„]|`+)", r" \1 "), (r'^"', "``"), (r"(``)", r" \1 "),
    (r"([ ([{<])(\"|'')", r"\1 `` "),
    (r"(?i)(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)", r"\1 "),  # 'tis stays for later
    # punctuation: a sentence's final period (behind its closing quotes and brackets), commas and
    # colons not inside numbers, ellipses, symbols, dashes, ? and !, a quote after a word
    # (the closing run is taken whole, never given back, as NLTK's possessive `*+` does: giving it
    # back space by space made a line of many spaces after a period quadratic)
    (r"([^.])(\.)(?=(" + _CLOSERS + r"*))\3\s*$", r"\1 \2 \3 "),
    (r"([:,])([^\d])", r" \1 \2"), (r"([:,])$", r" \1 "), (r"\.{2,}", r" \g<0> "),
    (r"[;@#$%&]", r" \g<0> "), (r"[\u2012-\u2015]", r" \g<0> "),
    (r"([^.])(\.)([\]\)}>\"']*)\s*$", r"\1 \2\3 "),
    (r"[?!]", r" \g<0> "), (r"([^'])' ", r"\1 ' "), (r"[*]", r" \g<0> "),
    (r"[\][(){}<>]", r" \g<0> "), (r"--", r" -- "),
]]
# Then, on the text with a space either side: closing quotes and clitics (`'s`, `n't`, `'ll`...).
PTB_ENDINGS = [(re.compile(pattern), replacement) for pattern, replacement in [
    (r"([»”’])", r" \1 "), (r"''", " '' "), (r'"', " '' "), (r"\s+", " "),
    (r"([^' ])('[sS]|'[mM]|'[dD]|') ", r"\1 \2 "),
    (r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", r"\1 \2 "),
    # words the treebank writes as two: cannot, gimme, gonna, gotta, lemme, wanna, 'tis, 'twas
    *((r"(?i)\b(" + a + ")(" + b + r")\b", r" \1 \2 ") for a, b in [
        ("can", "not"), ("d", "'ye"), ("gim", "me"), ("gon", "na"), ("got", "ta"), ("lem", "me"),
        ("more", "'n")]),
    (r"(?i)\b(wan)(na)(?=\s)", r" \1 \2 "),
    (r"(?i) ('t)(is)\b", r" \1 \2 "), (r"(?i) ('t)(was)\b", r" \1 \2 "),
]]


def _penn_tokens(text: str) -> list[str]:
    for pattern, replacement in PTB_RULES:
        text = pattern.sub(replacement, text)
    text = " " + text + " "
    for pattern, replacement in PTB_ENDINGS:
        text = pattern.sub(replacement, text)
    return text.split()


def tokenize(line: str) -> list[str]:
    """Penn Treebank tokens of a line of text, typographic characters included:
    `He said “hello” (twice)…` -> `He said `` hello '' ( twice ) ...`."""
    line = SPACES.sub(" ", line.replace("\u00ad", ""))
    for pattern, replacement in TEXT_FORMS:
        line = pattern.sub(replacement, line)
    return _penn_tokens(line)


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
