"""Word, character and tag indexes, and the padded tensors a batch of sentences becomes.

Every token is read in its treebank form (tagger.text: `(` is `-LRB-`, `“` is ``` `` ```), so the
characters of real text reach the model as the ones it learnt. Words are looked up lower-cased, since the character encoder sees the case; characters and
tags unseen in training map to `<unk>` and to the loss's ignore index. With pretrained word vectors
(tagger.pretrain), a second word index, the vectors' own, reaches far beyond the training words.
A vocabulary is saved with the model as JSON.
"""

import json
import re
from collections import Counter
from dataclasses import dataclass, field

import torch

from tagger.brown import AUX_TAG, TAG_SET
from tagger.config import FORMAT_VERSION
from tagger.data import Sentence
from tagger.errors import TaggerError
from tagger.text import treebank_forms

PAD, UNK = "<pad>", "<unk>"

DIGIT = re.compile(r"\d")
COMPOUND = re.compile(r"[-/]")


# NLLLoss and CrossEntropyLoss skip targets equal to their default ignore_index.
IGNORE_INDEX = -100

JSON_KEYS = ("words", "word_counts", "chars", "tags", "extra_forms", "unseen_words")


@dataclass
class Batch:
    words: torch.Tensor
    lengths: torch.Tensor
    chars: torch.Tensor
    char_lengths: torch.Tensor
    forms: torch.Tensor
    tags: torch.Tensor | None = None
    vectors: torch.Tensor | None = None  # ids into the pretrained vectors, when the model has them
    aux_tags: torch.Tensor | None = None  # ids of the second tag set, when the vocab has one
    # (B, T, num_tags) a teacher's probabilities at silver tokens (tags given as dicts), else 0
    soft: torch.Tensor | None = None
    # `chars` spells the forms `new_forms`; the forms numbered after them are those of `cached`'s
    # rows in the caller's tagger.model.FormCache (None: every form is spelt in `chars`).
    new_forms: list[str] = field(default_factory=list)
    cached: torch.Tensor | None = None
    form_words: torch.Tensor | None = None  # (U,) the word id of each form: `words` gathered

    def to(self, device) -> "Batch":
        """The batch on `device`; lengths stay on the CPU, where packing sequences wants them."""
        return Batch(self.words.to(device), self.lengths, self.chars.to(device),
                     self.char_lengths, self.forms.to(device),
                     None if self.tags is None else self.tags.to(device),
                     None if self.vectors is None else self.vectors.to(device),
                     None if self.aux_tags is None else self.aux_tags.to(device),
                     None if self.soft is None else self.soft.to(device),
                     self.new_forms, None if self.cached is None else self.cached.to(device),
                     None if self.form_words is None else self.form_words.to(device))


@dataclass
class Vocab:
    words: list[str]
    chars: list[str]
    tags: list[str]
    word_counts: list[int]
    forms: frozenset[str] = frozenset()
    vectors: list[str] = field(default_factory=list)  # words of the pretrained vectors, in order
    # Tags that are sets ("VB|VBP": a token known to be one of these, as Brown's are in Penn tags,
    # tagger.brown), numbered after the tags.
    tag_sets: list[str] = field(default_factory=list)
    # The second tag set (after AUX_TAG in the training tags), if any; training alone uses it, so
    # it is not saved.
    aux_tags: list[str] = field(default_factory=list)
    _word_ids: dict = field(init=False, repr=False, compare=False)
    _char_ids: dict = field(init=False, repr=False, compare=False)
    _tag_ids: dict = field(init=False, repr=False, compare=False)
    _vector_ids: dict = field(init=False, repr=False, compare=False)
    _aux_tag_ids: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        self.forms = frozenset(self.forms)
        self._word_ids = {word: i for i, word in enumerate(self.words)}
        self._char_ids = {char: i for i, char in enumerate(self.chars)}
        self._tag_ids = {tag: i for i, tag in enumerate(self.tags + self.tag_sets)}
        self._vector_ids = {word: i for i, word in enumerate(self.vectors)}
        self._aux_tag_ids = {tag: i for i, tag in enumerate(self.aux_tags)}

    @classmethod
    def build(cls, sentences: list[Sentence], vectors: list[str] = ()) -> "Vocab":
        """The vocabulary of the training sentences (never dev or test: their words must stay
        unknown for the accuracy on unknown words to mean anything), and the word list of
        pretrained vectors when given (learnt from raw text only, so no tag leaks through it)."""
        forms = Counter(form for sentence in sentences
                        for form in treebank_forms([word for word, _ in sentence]))
        counts = Counter()
        for form, count in forms.items():
            counts[form.lower()] += count
        # Most frequent first, ties alphabetical, so the same corpus always gives the same ids.
        words = [PAD, UNK] + sorted(counts.keys() - {PAD, UNK}, key=lambda w: (-counts[w], w))
        chars = [PAD, UNK] + sorted({char for form in forms for char in form})
        # Silver tokens' tags are dicts of a teacher's probabilities over these same tags.
        given = {tag for sentence in sentences for _, tag in sentence if isinstance(tag, str)}
        aux = sorted({tag.partition(AUX_TAG)[2] for tag in given} - {""})
        given = {tag.partition(AUX_TAG)[0] for tag in given} - {""}
        tags = sorted({one for tag in given for one in tag.split(TAG_SET)})
        return cls(words, chars, tags, [counts[word] for word in words], frozenset(forms),
                   list(vectors), sorted(tag for tag in given if TAG_SET in tag), aux)

    def word_id(self, word) -> int:
        return self._word_ids.get(word.lower(), self._word_ids[UNK])

    def vector_id(self, word) -> int:
        key = vector_key(word)
        found = self._vector_ids.get(key)
        if found is None and COMPOUND.search(key):
            # An English compound behaves like its last part, its head ("minimum-wage" like
            # "wage"), and compounds are the words raw text most often lacks.
            found = self._vector_ids.get(COMPOUND.split(key)[-1])
        return 1 if found is None else found  # 1 is <unk>, a zero vector

    def frequent_forms(self, n: int) -> list[str]:
        """The `n` forms of training whose words were the most frequent there, most frequent
        first, ties in alphabetical order."""
        unk = self._word_ids[UNK]
        return sorted(self.forms, key=lambda f: (-self.word_counts[self._word_ids.get(
            f.lower(), unk)], f))[:n]

    def is_known(self, word) -> bool:
        """Whether this exact form, case included, was seen in training."""
        return treebank_forms([word])[0] in self.forms

    def batch(self, sentences: list[list[str]], tags: list[list[str]] | None = None,
              known: dict | None = None) -> Batch:
        """Padded tensors for sentences of words, with their tags when given. `known` maps word
        forms whose character vectors the caller already has (tagger.model.FormCache) to their
        rows there: those get no characters, and are numbered after the forms that do."""
        if not sentences:
            raise ValueError("cannot batch zero sentences")
        for i, sentence in enumerate(sentences):
            if not sentence:
                raise ValueError(f"sentence {i} is empty; filter empty sentences out before batching")
        if tags is not None and [len(s) for s in sentences] != [len(t) for t in tags]:
            raise ValueError("tags must give one tag per word of each sentence")
        sentences = [treebank_forms(sentence) for sentence in sentences]
        # Each distinct form goes through the character encoder once, however often it occurs, and
        # is looked up once: the tokens' ids are the forms' ids gathered.
        form_ids = {}
        flat = torch.tensor([form_ids.setdefault(word, len(form_ids))
                             for s in sentences for word in s], dtype=torch.long)  # (tokens,)
        forms, new, cached = list(form_ids), list(form_ids), None
        if known:
            new = [form for form in forms if form not in known]
            if len(new) < len(forms):
                old = [form for form in forms if form in known]
                cached = torch.tensor([known[form] for form in old], dtype=torch.long)
                forms = new + old
                order = {form: i for i, form in enumerate(forms)}
                flat = torch.tensor([order[form] for form in form_ids], dtype=torch.long)[flat]
        lengths = torch.tensor([len(s) for s in sentences], dtype=torch.long)
        place = torch.arange(int(lengths.max())) < lengths.unsqueeze(1)  # (B, T) real tokens

        def per_form(lookup):  # (U,) ids looked up once per distinct form
            return torch.tensor([lookup(form) for form in forms], dtype=torch.long)

        form_words = per_form(self.word_id)

        unk = self._char_ids[UNK]
        # An empty token (possible from the Python API) reads as one unknown character.
        chars = [[self._char_ids.get(char, unk) for char in form] or [unk] for form in new]
        return Batch(
            words=_scatter(place, form_words[flat]),
            lengths=lengths,
            chars=_pad(chars, 0),
            char_lengths=torch.tensor([len(form) for form in chars], dtype=torch.long),
            forms=_scatter(place, flat),
            tags=None if tags is None else _pad(
                [[self._tag_ids.get(tag.partition(AUX_TAG)[0], IGNORE_INDEX)
                  if isinstance(tag, str) else IGNORE_INDEX for tag in t] for t in tags],
                IGNORE_INDEX),
            vectors=_scatter(place, per_form(self.vector_id)[flat]) if self.vectors else None,
            aux_tags=None if tags is None or not self.aux_tags else _pad(
                [[self._aux_tag_ids.get(tag.partition(AUX_TAG)[2], IGNORE_INDEX)
                  if isinstance(tag, str) else IGNORE_INDEX for tag in t] for t in tags],
                IGNORE_INDEX),
            soft=None if tags is None else self._soft_targets(tags, place.shape),
            new_forms=new,
            cached=cached,
            form_words=form_words,
        )

    def _soft_targets(self, tags, shape) -> torch.Tensor | None:
        """(B, T, num_tags) the probabilities of the silver tokens' dicts, 0 elsewhere; None when
        no token has them."""
        if not any(isinstance(probs, dict) for row in tags for probs in row):
            return None
        num_tags = len(self.tags)  # a teacher's tags are single ones, never sets
        found = [(b, t, self._tag_ids[tag], p) for b, row in enumerate(tags)
                 for t, probs in enumerate(row) if isinstance(probs, dict)
                 for tag, p in probs.items() if self._tag_ids.get(tag, num_tags) < num_tags]
        soft = torch.zeros(*shape, len(self.tags))
        if found:
            b, t, tag, p = zip(*found)
            soft[b, t, tag] = torch.tensor(p)
        return soft

    def tag_set_mask(self) -> torch.Tensor:
        """Which tags each tag id allows: row i is tag i alone, then one row per tag set.
        -> (len(tags) + len(tag_sets), len(tags)) bool"""
        mask = torch.eye(len(self.tags), dtype=torch.bool)
        sets = torch.zeros(len(self.tag_sets), len(self.tags), dtype=torch.bool)
        for row, tag_set in zip(sets, self.tag_sets):
            row[[self._tag_ids[tag] for tag in tag_set.split(TAG_SET)]] = True
        return torch.cat([mask, sets])

    def decode_tags(self, ids) -> list[str]:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return [self.tags[i] for i in ids]

    def to_json(self) -> str:
        # Most forms are their own lower-cased word, so only the differences are stored.
        listed = set(self.words[2:])
        return json.dumps({
            "format_version": FORMAT_VERSION,
            "words": self.words,
            "word_counts": self.word_counts,
            "chars": self.chars,
            "tags": self.tags,
            "extra_forms": sorted(self.forms - listed),
            "unseen_words": sorted(listed - self.forms),
            "vectors": self.vectors,
            "tag_sets": self.tag_sets,
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text, source="vocab.json") -> "Vocab":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise TaggerError(f"{source} is not valid JSON ({e}); retrain the model") from None
        found = data.get("format_version") if isinstance(data, dict) else None
        if found != FORMAT_VERSION:
            raise TaggerError(f"{source} has model format version {found}, this tagger reads "
                              f"version {FORMAT_VERSION}; retrain the model with this version")
        malformed = [key for key in JSON_KEYS if not isinstance(data.get(key), list)]
        for key in ("vectors", "tag_sets"):  # absent in models without them
            if not isinstance(data.get(key, []), list):
                malformed.append(key)
        malformed += [key for key in ("words", "chars")
                      if key not in malformed and data[key][:2] != [PAD, UNK]]
        if not malformed:
            try:
                forms = set(data["words"][2:]) - set(data["unseen_words"])
                return cls(data["words"], data["chars"], data["tags"], data["word_counts"],
                           forms | set(data["extra_forms"]), data.get("vectors", []),
                           data.get("tag_sets", []))
            except TypeError:  # lists of lists or objects where strings belong
                malformed = ["entries"]
        raise TaggerError(f"{source} has missing or malformed {', '.join(malformed)}; "
                          "retrain the model")

def vector_key(word: str) -> str:
    """The form a word's pretrained vector is found under: case and the digits of numbers carry
    little that the character encoder does not see, and merging them pools raw text's evidence."""
    return DIGIT.sub("0", word.lower())


def _pad(rows, value):
    """A (len(rows), longest row) long tensor of the rows, padded on the right with `value`
    (built from one flat list: torch reads a flat list several times faster than nested ones)."""
    if not rows:
        return torch.zeros(0, 0, dtype=torch.long)
    lengths = torch.tensor([len(row) for row in rows])
    place = torch.arange(int(lengths.max())) < lengths.unsqueeze(1)
    out = torch.full(place.shape, value, dtype=torch.long)
    out[place] = torch.tensor([x for row in rows for x in row], dtype=torch.long)
    return out


def _scatter(place, values):
    """A (B, T) long tensor with `values` (one per True of `place`, row by row) where `place` is
    True and 0 elsewhere."""
    out = torch.zeros(place.shape, dtype=torch.long)
    out[place] = values
    return out
