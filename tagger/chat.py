"""NLTK's NPS Chat corpus in Penn Treebank tags.

NPS Chat (10,567 posts, 45k tokens from age-specific chat rooms, 2006) is what neither the
treebank nor Brown is: lowercase, misspelt, abbreviated (`u`, `im`, `wanna`), full of `lol`,
emoticons and usernames (`U7`, masked by the corpus). It is tagged in Penn's tags already, with a
few of its own: `^` before the tag of a misspelt or nonstandard word (`^NN` for `mornign`), BES
and HVS for the `'s` of "is" and "has", GW for a piece of a word split by a space (`ex prisoner`),
X for what has no tag, and the brackets written as themselves. Its tokens are split as the
treebank's are (`do n't`, `I 'm`, `John 's`), so only the tags are changed here:

    PTB tag (CC, NN, VBZ, SYM, UH...)   the same tag
    ^TAG (^NN, ^VBP, ^., ^POS...)       what TAG maps to: the word is misspelt, not mistagged
    BES, HVS                            VBZ
    ( )                                 -LRB- -RRB-
    ''                                  ''|`` (NPS writes every quotation mark '', open or close)
    GW, X, ^PRP^VBP, an empty tag       nothing: the post is left out

A post of one JOIN or PART (a user came or went: 2,037 posts, a fifth of the corpus) is left out,
and the `. ACTION` that starts a /me post (`. ACTION sighs .`) is taken off it (see penn_post).
"""

from tagger.brown import TAG_SET

# NPS tags that are not Penn's -> the Penn tags each may be. Penn's own tags map to themselves.
SPECIAL = {"BES": "VBZ", "HVS": "VBZ", "(": "-LRB-", ")": "-RRB-", "''": "''" + TAG_SET + "``"}
# The Penn tags (and quote tags) NPS uses as they are; any other tag has no Penn reading.
PENN = frozenset("""# $ , -LRB- -RRB- . : CC CD DT EX FW IN JJ JJR JJS LS MD NN NNP NNPS NNS PDT
    POS PRP PRP$ RB RBR RBS RP SYM TO UH VB VBD VBG VBN VBP VBZ WDT WP WP$ WRB `` ''""".split())
# The mark of a misspelt or nonstandard word, before its tag.
NONSTANDARD = "^"
# A post that is only one of these is the chat server saying someone came or went, not a user
# writing: "JOIN/VB" 1,021 times would teach nothing but that JOIN is a verb.
EVENTS = frozenset({"JOIN", "PART"})
# How the chat client writes "/me sighs": the words after it are the user's.
ACTION = [(".", "SYM"), ("ACTION", "NN")]


def penn_tag(tag: str) -> str | None:
    """The Penn tag (or "A|B" set) of an NPS tag, or None when it has none (GW, X, "")."""
    if tag.startswith(NONSTANDARD):
        tag = tag[len(NONSTANDARD):]
        if NONSTANDARD in tag:  # ^PRP^VBP: `your` for "you're", two words in one token
            return None
    if tag in SPECIAL:
        return SPECIAL[tag]
    return tag if tag in PENN else None


def penn_post(post: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """An NPS Chat post with Penn tags, or None when it is left out: a JOIN or PART event, an
    empty post, or one with a token Penn cannot tag (GW's half-words, X, a run-together tag).
    A /me post loses its `. ACTION` prefix: the client wrote it, and it would teach the tagger
    that a sentence may start with a SYM and an NN that no other text has."""
    if len(post) == 1 and post[0][0] in EVENTS:
        return None
    if list(post[:2]) == ACTION:
        post = post[2:]
    out = []
    for word, tag in post:
        penn = penn_tag(tag)
        if penn is None:
            return None
        out.append((word, penn))
    return out or None
