"""The Brown corpus in Penn Treebank tokens, each tagged with the set of Penn tags its Brown tag allows.

Brown (1.16M tokens, 15 genres: fiction, religion, humour, science, reviews...) is what the treebank
sample is not: varied. Its 87 tags are the ancestors of Penn's 45, so most map one to one (AT is DT,
NP is NNP, BEDZ is VBD), but some do not: Brown's VB is Penn's VB or VBP, its NR (home, Friday) is
NN, NNP or RB, and a word in a title (-TL) may be a proper noun in Penn. Such a token is tagged with
all the Penn tags it may have, joined by "|" (`VB|VBP`), and the tagger learns from it by raising the
probability of the set (tagger.train.tag_loss): which one of the set is right, the Penn-tagged data
teaches. A token may also carry its own Brown tag, or carry that alone, for a second tag head that
learns Brown's finer distinctions over the same encoder (multi-task learning, `--brown-tags`).
Brown also writes contractions and possessives as one token (`don't`, `John's`), which the
treebank splits (`do n't`, `John 's`); they are split here the same way.
"""

import re

# (tagger.data reads Brown through this module, and tagger.vocab reads the tags it writes, so it
# imports neither: a sentence is a list of (word, tag) pairs, as tagger.data.Sentence.)

# Joins the tags of a token that may have any of them: "VB|VBP".
TAG_SET = "|"
# Joins a token's tag and its tag in a second tag set, learnt by a second head while training
# (Brown's own tags, `--brown-tags`): "VB|VBP~VB", or "~VB" for a token of the second set alone.
AUX_TAG = "~"

# Brown's tags (decorations removed) -> the Penn tags each may be, the likeliest first.
PENN = {
    ".": ".", ",": ",", ":": ":", "--": ":", "(": "-LRB-", ")": "-RRB-", "``": "``", "''": "''",
    "'": "''|POS", "*": "RB",
    "ABL": "PDT|DT|JJ|RB", "ABN": "DT|PDT|JJ|NN|RB", "ABX": "DT|CC|PDT",
    "AP": "JJ|DT|JJR|JJS|RB|RBR|RBS|NN", "AT": "DT",
    "BE": "VB", "BED": "VBD", "BEDZ": "VBD", "BEG": "VBG", "BEM": "VBP", "BEN": "VBN", "BER": "VBP",
    "BEZ": "VBZ", "CC": "CC", "CD": "CD", "CS": "IN|WDT|WRB|RB", "DO": "VB|VBP", "DOD": "VBD",
    "DOZ": "VBZ", "DT": "DT", "DTI": "DT", "DTS": "DT", "DTX": "DT|CC", "EX": "EX", "FW": "FW",
    "HV": "VB|VBP", "HVD": "VBD|VBN", "HVG": "VBG", "HVN": "VBN", "HVZ": "VBZ", "IN": "IN",
    "JJ": "JJ", "JJR": "JJR|RBR", "JJS": "JJ|JJS", "JJT": "JJS", "MD": "MD",
    "NN": "NN", "NNS": "NNS", "NP": "NNP", "NPS": "NNPS|NNP", "NR": "NN|NNP|RB", "NRS": "NNS|NNPS",
    "OD": "JJ|RB|CD", "PN": "NN", "PP$": "PRP$", "PP$$": "PRP", "PPL": "PRP", "PPLS": "PRP",
    "PPO": "PRP", "PPS": "PRP", "PPSS": "PRP", "QL": "RB|RBR|RBS|JJ|JJR|JJS", "QLP": "RB|JJ",
    "RB": "RB", "RBR": "RBR|JJR", "RBT": "RBS|JJS", "RN": "RB", "RP": "RP|RB|IN", "TO": "TO",
    "UH": "UH", "VB": "VB|VBP", "VBD": "VBD", "VBG": "VBG|JJ", "VBN": "VBN|JJ", "VBZ": "VBZ",
    "WDT": "WDT|WP", "WP$": "WP$", "WPO": "WP", "WPS": "WP|WDT", "WQL": "WRB", "WRB": "WRB",
}
# A word in a title (-TL) may be part of a name, which Penn tags as a proper noun.
TITLE = {"NN": "NNP", "NNS": "NNPS", "JJ": "NNP", "NP": "NNP", "NPS": "NNPS", "NR": "NNP",
         "VBN": "NNP", "VBG": "NNP", "OD": "NNP"}
# Possessive tags (NN$, NP$...) other than the pronouns', which are single words in Penn too.
OWN_WORDS = {"PP$", "PP$$", "WP$"}
DECORATION = re.compile(r"-(HL|TL|NC)\b|^FW-")


def penn_sentence(sentence: list[tuple[str, str]], tags: str = "penn") -> list | None:
    """A Brown sentence as Penn tokens with their Penn tag sets, or None when a token has no
    Penn reading (NIL, or one of the few run-together forms like `gonna` the treebank splits).
    tags="both": each Penn tag set is followed by the token's own Brown tag (`VB|VBP~VB`);
    tags="own": the Brown tag alone (`~VB`)."""
    out = []
    for word, tag in sentence:
        tokens = _penn_tokens(word, tag, tags)
        if tokens is None:
            return None
        out.extend(tokens)
    return out


def _penn_tokens(word, tag, kind="penn"):
    title, foreign = "-TL" in tag, tag.startswith("FW-")
    parts = DECORATION.sub("", tag).split("+")
    if len(parts) == 2:  # it's, I'm, you'll, let's: split where the apostrophe is
        cut = word.rfind("'")
        if cut <= 0:
            return None
        words = [word[:cut], word[cut:]]
    elif parts[0].endswith("*") and parts[0] != "*":  # don't, can't, wasn't; cannot
        parts = [parts[0][:-1], "*"]
        lower = word.lower()
        cut = len(word) - 3 if lower.endswith("n't") else 3 if lower == "cannot" else -1
        if cut <= 0:
            return None
        words = [word[:cut], word[cut:]]
    elif parts[0].endswith("$") and parts[0] not in OWN_WORDS:  # John's, boys'
        parts = [parts[0][:-1], "'"]
        cut = word.rfind("'")
        if cut <= 0:
            return None
        words, parts[1] = [word[:cut], word[cut:]], "POS"
    else:
        words = [word]
    tokens = []
    for piece, brown in zip(words, parts):
        penn = PENN.get(brown, brown if brown == "POS" else None)
        if penn is None:
            return None
        tags = penn.split(TAG_SET)
        if piece.lower() == "to" and brown in ("IN", "TO"):
            tags = ["TO"]  # the treebank tags every "to" TO
        if title and brown in TITLE:
            tags.append(TITLE[brown])
        if foreign:
            tags.insert(0, "FW")
        penn = TAG_SET.join(dict.fromkeys(tags))
        if kind != "penn":  # the piece's part of the tag, with the title and foreign-word marks
            own = ("FW-" if foreign else "") + brown + ("-TL" if title else "")
            penn = (penn if kind == "both" else "") + AUX_TAG + own
        tokens.append((piece, penn))
    return tokens
