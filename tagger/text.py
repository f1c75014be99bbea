"""Real text to the treebank's tokens: a tokenizer, and the forms the training data writes.

The Penn Treebank is ASCII with conventions of its own: brackets are `-LRB-`, `-RRB-`, `-LCB-`...,
quotes are ``` `` ``` and `''`, a dash is `--`, an ellipsis `...`. Text people type has `(`, curly
quotes, `–`, `…` and non-breaking spaces, which a model trained on the treebank has never seen:
it tagged `(` as CD and kept `“hello”` as one noun. So raw text is tokenized the treebank's way
after its typographic characters are spelled as the treebank spells them (`tokenize`), and every
token a model reads, from a file, `--tokenized` input or a corpus, is looked up by its treebank
form (`treebank_forms`), while the user's tokens are what is printed.

Web text keeps its own tokens whole, as NLTK's TweetTokenizer and spaCy keep them: URLs, e-mail
addresses, @mentions, #hashtags and emoticons, which the treebank's rules would cut apart
(`bob @ example.com`, `: )`). `tokenize_spans` gives each token its `[start, end)` character
offsets in the text and the input's own characters (`“`, `n’t`), beside the treebank's token.
"""

import re
from functools import lru_cache

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
# Every Unicode space (no-break, thin, ideographic...) and line break separates tokens as a space
# does: a sentence of hard-wrapped text spans lines.
SPACES = re.compile(r"\s")
# In running text, curly quotes and dashes become the ASCII the tokenizer knows, with their side:
# an opening curly quote stays an opening quote wherever it stands.
TEXT_FORMS = [
    # (a closing quote goes on its word: the tokenizer reads `''` after a space as opening)
    # (`(?<!\s)`: a run of spaces is tried from its start only, so a long run is read once)
    (re.compile(r"[“„«]"), " `` "), (re.compile(r"(?<!\s)\s*[”»]"), "'' "),
    (re.compile(r"(?<=\w)[’'](?=\w)"), "'"),        # an apostrophe inside a word
    (re.compile(r"‘"), " ` "), (re.compile(r"’"), " ' "),
    (re.compile(r"(?<=\w)–(?=\w)"), "-"),           # an en dash inside a word or a range
    (DASH := re.compile(r"(?<!\s)\s*[—―–]\s*|--"), " -- "),  # a dash between words
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
]]
# Last, the words the treebank writes as two: cannot, gimme, gonna, gotta, lemme, wanna, 'tis,
# 'twas (NLTK's rules, one pattern each, as one pattern: they never overlap, and a line is read
# once for all of them).
TWO_WORDS = re.compile(r"(?i)\b(?:(can)(not)|(d)('ye)|(gim)(me)|(gon)(na)|(got)(ta)|(lem)(me)"
                       r"|(more)('n))\b|\b(wan)(na)(?=\s)| ('t)(is|was)\b")


def _two_words(match: re.Match) -> str:
    first, second = (group for group in match.groups() if group is not None)
    return f" {first} {second} "


# Web tokens, each kept whole (the treebank's rules would split them at `:`, `@`, `#`, `?`...):
# URLs with a scheme or `www.` (and bare domains followed by a path), e-mail addresses, @mentions,
# #hashtags with a letter (`#1` stays `# 1`, as in WSJ), and emoticons standing apart from words.
# A URL ends before the punctuation that ends its sentence, and takes brackets it opens.
_URL_CHAR = r"[^\s()<>\[\]{}\"'“”‘’«»]"
_URL_END = r"[^\s()<>\[\]{}\"“”‘’«».,;:!?'`]"
_URL_BODY = rf"(?:{_URL_CHAR}|\({_URL_CHAR}*\))*(?:{_URL_END}|\({_URL_CHAR}*\))"
EMOTICON = r"(?<!\S)(?:[<>]?[:;=][-o*']?[()\[\]dDpP/\\|@oO3*]|<3+|</3|\^_*\^|-_-|[oO]_[oO])(?=\s|$|[.,;!?])"
WEB_TOKEN = re.compile(rf"""
    (?<![\w.+-])(?:[a-z][a-z0-9+.-]*://|www\d{{0,3}}\.){_URL_BODY}  # https://example.com/a?b=1
  | (?<![\w.@-])(?:[a-z0-9-]+\.)+[a-z]{{2,}}/{_URL_BODY}        # example.com/a?b=1
  | (?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+                      # bob@example.com
  | (?<![\w@])@\w+                                                # @jenny
  | (?<![\w#&])\#(?=\w*[^\W\d_])\w+                               # #bestever
  | {EMOTICON}                                                    # :) :-( ;P <3 ^_^
""", re.VERBOSE | re.IGNORECASE)
EMOTICON = re.compile(EMOTICON)
# A character every web token has one of: most lines have none, and this search is quick.
_MAYBE_WEB = re.compile(r"[:;=@#/<^_]|www")


def _penn_tokens(text: str) -> list[str]:
    for pattern, replacement in PTB_RULES:
        text = pattern.sub(replacement, text)
    text = " " + text + " "
    for pattern, replacement in PTB_ENDINGS:
        text = pattern.sub(replacement, text)
    return TWO_WORDS.sub(_two_words, text).split()


def tokenize(line: str) -> list[str]:
    """Penn Treebank tokens of a line of text, typographic characters included:
    `He said “hello” (twice)…` -> `He said `` hello '' ( twice ) ...`; web tokens stay whole."""
    line = SPACES.sub(" ", line.replace("\u00ad", ""))
    # Web tokens stand in the text as placeholder words while the rules run, so that the rules
    # read them as the words they are, then come back.
    web = [match.group() for match in WEB_TOKEN.finditer(line)] if _MAYBE_WEB.search(line) else ()
    if web:
        mark = "zWebz"
        while mark in line:
            mark += "z"
        line = WEB_TOKEN.sub(mark, line)
    if not line.isascii():
        for pattern, replacement in TEXT_FORMS:
            line = pattern.sub(replacement, line)
    elif "--" in line:  # of TEXT_FORMS, the one that changes ASCII
        line = DASH.sub(" -- ", line)
    tokens = _penn_tokens(line)
    if web:  # a placeholder may have joined a word, as `@jenny` in `@jenny-style`
        found, mark = iter(web), re.compile(mark)
        tokens = [mark.sub(lambda _: next(found), token) for token in tokens]
    return tokens


# What a treebank token may stand for in the text: its quotes, dashes and ellipses are typed in
# several ways (tokenize spells them the treebank's way), characters inside a token in two. A
# quote's side is the rules' guess from its neighbours (`“”` gives ``` `` `` ```), so either
# quote token may stand for any quotation mark.
QUOTES = ("``", "''", '"', "“", "”", "„", "«", "»")
TOKEN_SOURCES = {"``": QUOTES, "''": QUOTES, "--": ("--", "—", "―", "–"), "...": ("...", "…")}
CHAR_SOURCES = {"'": "'’", "`": "`‘", "-": "-–"}
_SKIPPED = re.compile(r"[\s\u00ad]*")  # between tokens: spaces, and soft hyphens, which go
_WORDS = re.compile(r"\S+")


@lru_cache(maxsize=65536)
def _source(token: str) -> re.Pattern:
    """A pattern for the characters a token of `tokenize` was read from."""
    if token in TOKEN_SOURCES:
        return re.compile("|".join(map(re.escape, TOKEN_SOURCES[token])))
    chars = ("[" + re.escape(CHAR_SOURCES[c]) + "]" if c in CHAR_SOURCES else re.escape(c)
             for c in token)
    return re.compile("\u00ad*".join(chars))


def tokenize_spans(text: str, start: int = 0, end: int | None = None):
    """The tokens of `text[start:end]` as three lists: the input's own characters of each token
    (`“`, `n’t`), the treebank token the model reads for it (``` `` ```, `n't`: `tokenize`'s), and
    its `(start, end)` character offsets in `text`."""
    end = len(text) if end is None else end
    treebank = tokenize(text[start:end])
    spans, at = [], start
    skip, starts_with = _SKIPPED.match, text.startswith  # (the loop runs once a token)
    for token in treebank:
        if starts_with(token, at):  # the token where the last one ended, or after one space
            found = at + len(token)
        elif starts_with(token, at + 1) and text[at] == " ":
            at, found = at + 1, at + 1 + len(token)
        else:
            at = skip(text, at, end).end()
            match = starts_with(token, at) or _source(token).match(text, at, end)
            if match is None:  # the rules regrouped characters: `'”` gives `''` `'`
                return _by_characters(text, start, end, treebank)
            found = at + len(token) if match is True else match.end()
        spans.append((at, found))
        at = found
    return [text[s:e] for s, e in spans], treebank, spans


# What the rules may make of a character, the longest first (any other stays itself), where the
# rules' ` and ' are one: they regroup them freely (`'”` gives `` ``` `` and `'`).
EXPANSIONS = {**{q: ("''",) for q in QUOTES[2:]}, **{q: ("'",) for q in "'`’‘"},
              "–": ("--", "-"), "—": ("--",), "―": ("--",), "…": ("...",)}


def _by_characters(text, start, end, treebank):
    """tokenize_spans the slow way, for the rare text whose characters the rules regroup: each
    character of the text belongs to the token its treebank spelling starts in, and a token that
    no character starts joins the one before. Failing that, the tokens between spaces."""
    stream = "".join(treebank).replace("`", "'")
    owner = [k for k, t in enumerate(treebank) for _ in t]
    first, last, at = {}, {}, 0
    for i in range(start, end):
        char = text[i]
        if char.isspace() or char == "\u00ad":
            continue
        spelling = next((s for s in EXPANSIONS.get(char, ()) + (char,)
                         if stream.startswith(s, at)), None)
        if spelling is None:
            spans = [m.span() for m in _WORDS.finditer(text, start, end)]
            return [text[s:e] for s, e in spans], [text[s:e] for s, e in spans], spans
        first.setdefault(owner[at], i)
        last[owner[at]] = i + 1
        at += len(spelling)
    forms, spans = [], []
    for k, form in enumerate(treebank):
        if k in first:
            spans.append((first[k], last[k]))
            forms.append(form)
        elif forms:
            forms[-1] += form
    return [text[s:e] for s, e in spans], forms, spans


def treebank_forms(tokens: list[str]) -> list[str]:
    """The form under which the model knows each token: `(` is `-LRB-`, `“` is ```` `` ````,
    `don’t` is `don't`. A straight `"` has no side, so the sentence's first is read as opening,
    the next as closing, and so on, as the treebank's tokenizer does; `s` after an apostrophe
    token is `'s`."""
    if '"' in tokens or "'" in tokens or "’" in tokens:
        return _forms_in_context(tokens)
    # Most sentences: each token's form is its own (2.6 times faster than the loop below, and
    # every token the tagger reads passes here).
    get = TOKEN_FORMS.get
    return [get(t) or (t if t.isascii() else t.translate(CHAR_FORMS) or t) for t in tokens]


def _forms_in_context(tokens: list[str]) -> list[str]:
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
