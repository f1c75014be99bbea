"""Tag sets other than the model's own: NLTK's universal tags and Universal Dependencies' UPOS.

`--tagset universal` gives NLTK's twelve universal tags (Petrov et al. 2012), exactly as
`nltk.pos_tag(tokens, tagset="universal")` maps Penn tags: through NLTK's `map_tag('en-ptb',
'universal', tag)`, read from its `universal_tagset` package. CoNLL-U output carries the Penn tag
as XPOS and UD's UPOS (17 tags), mapped here as UD's English treebanks map Penn tags: MD and the
forms of "be" are AUX, as are "have" and "do" where a participle or a bare verb follows them.
"""

from functools import cache

from tagger.errors import TaggerError

TAGSETS = ("model", "universal")

# Penn Treebank tags, as NLTK's en-ptb mapping knows them: a model whose tags are not among these
# (one trained on Brown's universal tags, or on a user's UPOS) is not remapped.
PENN = frozenset("""# $ '' ( ) , -LRB- -RRB- . : ? CC CD DT EX FW IN JJ JJR JJS LS MD NN NNP NNPS NNS
    PDT POS PRP PRP$ RB RBR RBS RP SYM TO UH VB VBD VBG VBN VBP VBZ WDT WP WP$ WRB ``""".split())
UNIVERSAL = frozenset(". ADJ ADP ADV CONJ DET NOUN NUM PRON PRT VERB X".split())
UPOS = frozenset("""ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB
    X""".split())

# Penn -> UPOS, as in the English Web Treebank (UD_English-EWT); the verbs are settled by `upos`.
PENN_UPOS = {
    "#": "SYM", "$": "SYM", "''": "PUNCT", "``": "PUNCT", ",": "PUNCT", "-LRB-": "PUNCT",
    "-RRB-": "PUNCT", ".": "PUNCT", ":": "PUNCT", "(": "PUNCT", ")": "PUNCT", "?": "PUNCT",
    "CC": "CCONJ", "CD": "NUM", "DT": "DET", "EX": "PRON", "FW": "X", "IN": "ADP", "JJ": "ADJ",
    "JJR": "ADJ", "JJS": "ADJ", "LS": "X", "MD": "AUX", "NN": "NOUN", "NNP": "PROPN",
    "NNPS": "PROPN", "NNS": "NOUN", "PDT": "DET", "POS": "PART", "PRP": "PRON", "PRP$": "PRON",
    "RB": "ADV", "RBR": "ADV", "RBS": "ADV", "RP": "ADP", "SYM": "SYM", "TO": "PART", "UH": "INTJ",
    "VB": "VERB", "VBD": "VERB", "VBG": "VERB", "VBN": "VERB", "VBP": "VERB", "VBZ": "VERB",
    "WDT": "DET", "WP": "PRON", "WP$": "PRON", "WRB": "ADV",
}
# Subordinating conjunctions among IN's words (UD's SCONJ); the rest of IN is ADP.
SUBORDINATORS = frozenset("""although because if lest once since that though unless until
    whereas whether while""".split())
BE = frozenset("be am is are was were been being 's 're 'm".split())
HAVE = frozenset("have has had having 've 'd".split())
DO = frozenset("do does did".split())
NEGATIONS = frozenset(["not", "n't"])  # UD's PART, where Penn has RB
VERBS = frozenset("VB VBD VBG VBN VBP VBZ".split())


def kind(tags) -> str:
    """What a model's tag set is: "penn", "universal" (NLTK's twelve), "upos", or "other"."""
    tags = set(tags)
    for name, known in (("penn", PENN), ("universal", UNIVERSAL), ("upos", UPOS)):
        if tags <= known:
            return name
    return "other"


@cache
def universal_map() -> dict[str, str]:
    """NLTK's Penn -> universal mapping (its `map_tag('en-ptb', 'universal', tag)`); NLTK is
    imported here only, as it takes seconds to import."""
    from nltk.tag.mapping import tagset_mapping

    try:
        return dict(tagset_mapping("en-ptb", "universal"))
    except LookupError:
        raise TaggerError("NLTK resource 'taggers/universal_tagset' not found; get it with: python "
                          "-m nltk.downloader universal_tagset (or set NLTK_DATA to a folder that "
                          "has it)") from None


def to_universal(tags: list[str], model_tags) -> list[str]:
    """NLTK's universal tags for a sentence's tags from a model with tags `model_tags`."""
    found = kind(model_tags)
    if found == "universal":
        return tags
    if found != "penn":
        raise TaggerError("--tagset universal maps Penn Treebank tags, and this model's tags are "
                          f"{found}; leave --tagset out to get its own tags")
    mapping = universal_map()
    return [mapping.get(tag, "X") for tag in tags]


def upos(tokens: list[str], tags: list[str]) -> list[str]:
    """UD's UPOS for a sentence of Penn-tagged tokens in their treebank forms (`'s`, `n't`): the
    words settle IN and the verbs."""
    found = []
    for k, (token, tag) in enumerate(zip(tokens, tags)):
        word = token.lower()
        if tag == "IN":
            found.append("SCONJ" if word in SUBORDINATORS else "ADP")
        elif tag in VERBS and (word in BE or _auxiliary(word, tags[k + 1:])):
            found.append("AUX")
        elif tag == "RB" and word in NEGATIONS:
            found.append("PART")
        else:
            found.append(PENN_UPOS.get(tag, "X"))
    return found


def _auxiliary(word, following) -> bool:
    # "have" before a participle, "do" before a bare verb, with the subject and adverbs between
    # (`have you seen`, `did n't go`): the first verb to come decides.
    wanted = "VBN" if word in HAVE else "VB" if word in DO else None
    if wanted is None:
        return False
    for tag in following[:4]:
        if tag in VERBS or tag == "MD":
            return tag == wanted
        if tag not in ("RB", "PRP", "DT", "NN", "NNP", "NNS", "EX", "RBR", "RBS"):
            return False
    return False


# NLTK's universal tags are UPOS's ancestors.
UNIVERSAL_UPOS = {".": "PUNCT", "CONJ": "CCONJ", "PRT": "PART"}


def conllu_columns(forms: list[str], tags: list[str], model_kind: str):
    """(UPOS, XPOS) for a sentence: from Penn tags both, from universal or UPOS tags the UPOS, from
    any other tag set the XPOS alone; "_" where a column has nothing."""
    blank = ["_"] * len(tags)
    if model_kind == "penn":
        return upos(forms, tags), tags
    if model_kind == "upos":
        return tags, blank
    if model_kind == "universal":
        return [UNIVERSAL_UPOS.get(tag, tag) for tag in tags], blank
    return blank, tags
