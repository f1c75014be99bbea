"""Tagged sentences written out: word/TAG text, CoNLL (token TAB tag), JSON Lines and CoNLL-U.

    text    The/DT dog/NN ate/VBD            one sentence a line
    conll   The<TAB>DT                       one token a line, a blank line after each sentence
    json    {"tokens": [...], "tags": [...], "spans": [[0, 3], ...]}      one sentence a line
    conllu  # sent_id = 1 / # text = ... / ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC

Every format writes the input's own characters of each token (`“`, `n’t`); spans are `[start,
end)` character offsets into the input. CoNLL-U (what Universal Dependencies tools read) numbers
sentences from 1 over the whole input, marks `# newpar` where a paragraph begins, gives UPOS and
XPOS (tagger.tagsets.conllu_columns) and `SpaceAfter=No` in MISC where no space follows a token.
"""

import json
import re

from tagger import tagsets

FORMATS = ("text", "conll", "json", "conllu")
SENT_ID = re.compile(r"^# sent_id = (\d+)$", re.MULTILINE)


def format_sentences(sentences, tags, fmt, first_id=1, model_kind="penn") -> str:
    """The output for `sentences` (tagger.sentences.Sentence) with their `tags`, in format `fmt`;
    CoNLL-U's sentence ids start at `first_id` and count every sentence, empty ones too."""
    if fmt == "conllu":
        return "".join(_conllu(s, t, first_id + k, model_kind)
                       for k, (s, t) in enumerate(zip(sentences, tags)) if s.tokens)
    if fmt == "json":
        return "".join(json.dumps({"tokens": s.tokens, "tags": t, "spans": s.spans},
                                  ensure_ascii=False) + "\n" for s, t in zip(sentences, tags))
    if fmt == "conll":
        return "".join("".join(f"{w}\t{tag}\n" for w, tag in zip(s.tokens, t)) + "\n"
                       for s, t in zip(sentences, tags))
    return "".join(" ".join(f"{w}/{tag}" for w, tag in zip(s.tokens, t)) + "\n"
                   for s, t in zip(sentences, tags))


def _conllu(sentence, tags, number, model_kind) -> str:
    upos, xpos = tagsets.conllu_columns(sentence.forms, tags, model_kind)
    lines = ["# newpar\n"] if sentence.paragraph else []
    lines += [f"# sent_id = {number}\n", f"# text = {' '.join(sentence.text.split())}\n"]
    for k, (form, u, x, space) in enumerate(zip(sentence.tokens, upos, xpos,
                                                sentence.space_after()), 1):
        misc = "_" if space else "SpaceAfter=No"
        lines.append(f"{k}\t{form}\t_\t{u}\t{x}\t_\t_\t_\t_\t{misc}\n")
    return "".join(lines) + "\n"


def renumber(output: str, fmt: str, before: int) -> str:
    """Output formatted with CoNLL-U ids from 1, as if `before` sentences had come before it."""
    if fmt != "conllu" or not before:
        return output
    return SENT_ID.sub(lambda m: f"# sent_id = {int(m.group(1)) + before}", output)
