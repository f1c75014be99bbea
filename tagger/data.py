"""Corpora and batching: reads the toy corpus, NLTK's treebank, conll2000, Brown and NPS Chat, a
user's file, silver sentences a teacher tagged (tagger.distill), and MASC's written half for
evaluation out of the news domain.

Every corpus comes back as `Splits` of sentences, each a list of `(word, tag)` pairs. User
files are either CoNLL-U or one sentence per line of `word/TAG` tokens; a file that does not
parse raises `CorpusFormatError` naming its file and line.
"""

import json
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Iterator

import torch

from tagger.brown import penn_sentence
from tagger.chat import penn_post
from tagger.errors import CorpusFormatError, TaggerError

Sentence = list[tuple[str, str]]

CORPORA_DIR = Path(__file__).parent.parent / "corpora"
TOY_DIR = CORPORA_DIR / "toy"
# MASC's dev half, by file id: NLTK's masc_tagged files, 16 genres of written American English
# (email, fiction, spam, tweets...). Evaluation and model selection only: it is what says how
# well a model tags text other than news, which a model that learnt from it could not say.
MASC_DEV_FILEIDS = CORPORA_DIR / "masc-dev-fileids.txt"
# Tags scored on MASC: Penn's, less the quotes, which MASC writes '' on either side.
PENN_TAGS = frozenset("""# $ , -LRB- -RRB- . : CC CD DT EX FW IN JJ JJR JJS LS MD NN NNP NNPS NNS
    PDT POS PRP PRP$ RB RBR RBS RP SYM TO UH VB VBD VBG VBN VBP VBZ WDT WP WP$ WRB""".split())
# Quotation marks are not scored on MASC, whatever their tag: it tags the straight ones '' on
# either side, and most curly ones (2,300 tokens of its dev half) NN, as it does other characters
# its tagger did not know.
QUOTES = frozenset(['"', "'", "`", "``", "''", "“", "”", "‘", "’", "«", "»", "„"])
# conll2000 and MASC write the bracket tags as the brackets.
BRACKET_TAGS = {"(": "-LRB-", ")": "-RRB-"}

# Split by file, so no document lends sentences to both training and evaluation.
TREEBANK_DEV, TREEBANK_TEST = 141, 171

# Shuffled batches are length-sorted only within pools of this many batches: enough to keep
# padding low, few enough that batch contents still change from epoch to epoch.
POOL_BATCHES = 100

TREEBANK_MISSING_NOTE = ("note: NLTK's treebank sample was not found, training on the toy corpus; "
                         "get it with: python -m nltk.downloader treebank (or set NLTK_DATA)")


# Epochs when --epochs is 0: what fits the README's 15 minutes on 2 cores for the larger corpora.
DEFAULT_EPOCHS = {"english": 5, "wsj": 12}


def epochs_for(config, corpus_name: str) -> int:
    """--epochs, or the corpus's default number of epochs when it is 0."""
    return config.epochs or DEFAULT_EPOCHS.get(corpus_name, 30)


@dataclass
class Splits:
    name: str
    train: list[Sentence]
    dev: list[Sentence]
    test: list[Sentence]
    # Training sentences of which each epoch takes a share (`--brown-share`): Brown, for english.
    more: list[Sentence] = field(default_factory=list)
    # Sentences a teacher tagged (`--silver`, tagger.distill): each token's tag is a dict of the
    # teacher's probabilities, {tag: p}; each epoch takes the next share of them too.
    silver: list[Sentence] = field(default_factory=list)

    def epoch_train(self, epoch: int, share: float, silver_share: float = 1.0) -> list[Sentence]:
        """The sentences epoch `epoch` (1-based) trains on: all of train, and the epoch's slice of
        `more` and of `silver`, the next one each epoch, so all of `more` is seen every 1 / share
        epochs. A function of the epoch alone, so that --resume needs no state for it."""
        return self.train + _epoch_slice(self.more, epoch, share) + _epoch_slice(
            self.silver, epoch, silver_share)


def _epoch_slice(items: list, epoch: int, share: float) -> list:
    if not items:
        return []
    size = max(1, round(share * len(items)))
    start = (epoch - 1) * size % len(items)
    return (items + items)[start:start + min(size, len(items))]


def load_corpus(config) -> Splits:
    """The train/dev/test sentences that `config.corpus` names, with `config.limit` applied."""
    corpus = config.corpus
    if corpus == "auto":
        if all(nltk_has(f"corpora/{name}") for name in ("treebank", "conll2000", "brown")):
            corpus = "english"
        elif nltk_has("corpora/treebank"):
            corpus = "treebank"
        else:
            print(TREEBANK_MISSING_NOTE, file=sys.stderr)
            corpus = "toy"
    if corpus == "toy":
        splits = Splits("toy", *(read_tagged(TOY_DIR / f"{split}.txt")
                                 for split in ("train", "dev", "test")))
    elif corpus == "treebank":
        splits = _load_treebank(config.keep_traces)
    elif corpus in ("wsj", "english"):
        splits = _load_treebank(config.keep_traces)
        splits.name = corpus
        splits.train = splits.train + _conll2000_train()
        if corpus == "english":
            splits.more = _brown_penn(config.brown_tags)
            if config.nps_chat:
                splits.train = splits.train + _nps_chat_penn()
    elif corpus == "brown":
        splits = _load_brown()
    elif Path(corpus).is_file():
        splits = _load_user_files(config)
    else:
        raise TaggerError(f"corpus '{corpus}' is neither toy, treebank, wsj, english, brown nor an "
                          "existing file; check the path")
    if config.silver:
        splits.silver = read_silver(config.silver)
    if config.limit > 0:
        splits.train = splits.train[:config.limit]
        splits.more = splits.more[:config.limit]
        splits.silver = splits.silver[:config.limit]
    return splits


def require_nltk(resource: str, package: str) -> None:
    """Raise a one-line TaggerError unless NLTK's search path (NLTK_DATA etc.) has `resource`."""
    if not nltk_has(resource):
        raise TaggerError(f"NLTK resource '{resource}' not found; get it with: python -m "
                          f"nltk.downloader {package} (or set NLTK_DATA to a folder that has it)")


def nltk_has(resource) -> bool:
    """Whether NLTK's search path has `resource`, such as "corpora/treebank"."""
    # Imported here so tagging with a saved model does not pay for importing NLTK.
    import nltk

    # The downloader leaves packages zipped, and NLTK finds a directory inside a zip only
    # when its name ends in "/", so both spellings are tried.
    for name in (resource, resource.rstrip("/") + "/"):
        try:
            nltk.data.find(name)
            return True
        except LookupError:
            pass
    return False


def _load_treebank(keep_traces):
    require_nltk("corpora/treebank", "treebank")
    return Splits("treebank", *map(list, _treebank_splits(keep_traces)))


def _conll2000_train():
    # Only train.txt (WSJ sections 15-18): test.txt is kept for independent evaluation.
    require_nltk("corpora/conll2000", "conll2000")
    return list(_conll2000_sentences())


# NLTK's readers parse a corpus anew each time they are asked (Brown: 17 s here), so the three
# below keep their sentences for the process, for a script or a test suite that loads a corpus
# more than once; each caller gets lists of its own.
@cache
def _treebank_splits(keep_traces) -> tuple:
    from nltk.corpus import treebank

    def split(fileids):
        sentences = []
        for sentence in treebank.tagged_sents(fileids):
            sentence = [(word, tag) for word, tag in sentence if keep_traces or tag != "-NONE-"]
            if sentence:
                sentences.append(sentence)
        return tuple(sentences)

    train, dev, test = [], [], []
    for fileid in treebank.fileids():
        number = int(Path(fileid).stem.removeprefix("wsj_"))
        (train if number < TREEBANK_DEV else dev if number < TREEBANK_TEST else test).append(fileid)
    return split(train), split(dev), split(test)


@cache
def _conll2000_sentences() -> tuple:
    from nltk.corpus import conll2000

    return tuple([(word, BRACKET_TAGS.get(tag, tag)) for word, tag in sentence]
                 for sentence in conll2000.tagged_sents("train.txt"))


def _brown_penn(tags="penn"):
    require_nltk("corpora/brown", "brown")
    return list(_brown_penn_sentences(tags))


@cache
def _brown_penn_sentences(tags) -> tuple:
    from nltk.corpus import brown

    # All of Brown: it lends nothing to the Penn-tagged dev and test splits. Its files come genre
    # by genre, so the sentences are shuffled once, in a fixed order, for each epoch's share to
    # hold every genre.
    sentences = [s for s in (penn_sentence(s, tags) for s in brown.tagged_sents())
                 if s is not None]
    order = torch.randperm(len(sentences), generator=torch.Generator().manual_seed(0)).tolist()
    return tuple(sentences[i] for i in order)


def _nps_chat_penn():
    require_nltk("corpora/nps_chat", "nps_chat")
    return list(_nps_chat_sentences())


@cache
def _nps_chat_sentences() -> tuple:
    from nltk.corpus import nps_chat

    return tuple(s for s in map(penn_post, nps_chat.tagged_posts()) if s)


def masc_dev() -> dict[str, list[Sentence]]:
    """MASC's dev files, genre -> sentences; a token that is not scored (quotation marks, tags
    outside Penn's such as MASC's own `-` and `...`) has tag None: it is tagged, in context, but
    not counted."""
    require_nltk("corpora/masc_tagged", "masc_tagged")
    from nltk.corpus import masc_tagged

    genres = {}
    for fileid in MASC_DEV_FILEIDS.read_text().split():
        genre = masc_tagged.categories(fileid)[0]
        for sentence in masc_tagged.tagged_sents(fileid):
            tagged = [(word, tag if tag in PENN_TAGS and word not in QUOTES else None)
                      for word, tag in ((w, BRACKET_TAGS.get(t, t)) for w, t in sentence)]
            if tagged:
                genres.setdefault(genre, []).append(tagged)
    return genres


def _load_brown():
    require_nltk("corpora/brown", "brown")
    require_nltk("taggers/universal_tagset", "universal_tagset")
    from nltk.corpus import brown

    # Brown's own tags (with -HL, -TL and FW- decorations) are too many for a small model; the
    # universal tagset (12 tags) is the usual way to learn from it.
    #
    # The split is by file, fixed: of the 500 file ids in sorted order (ca01 ... cr09), every tenth
    # from the ninth is dev (ca09, ca19, ..., cr08: 50 files) and every tenth from the tenth is test
    # (ca10, ca20, ..., cr09: 50 files); the other 400 train. Each of the 15 genres (the letter after
    # "c") thus lends about a tenth of its files to dev and a tenth to test. That gives 46,175
    # train / 5,523 dev / 5,642 test sentences, of 929,728 / 115,661 / 115,803 tokens.
    def split(fileids):
        return [list(sentence) for sentence in brown.tagged_sents(fileids, tagset="universal")]

    return Splits("brown", *(split(fileids) for fileids in _split_tenths(sorted(brown.fileids()))))


def _split_tenths(items, held_out=("dev", "test")):
    # The fixed split for a corpus that has none: item i goes to dev when i % 10 == 8 and to
    # test when i % 10 == 9, for the splits in `held_out`; everything else stays in train.
    parts = {"train": [], "dev": [], "test": []}
    for i, item in enumerate(items):
        split = {8: "dev", 9: "test"}.get(i % 10, "train")
        parts[split if split in held_out else "train"].append(item)
    return parts["train"], parts["dev"], parts["test"]


def _load_user_files(config):
    given = {}
    for split in ("dev", "test"):
        path = getattr(config, split)
        if path is not None:
            if not Path(path).is_file():
                raise TaggerError(f"{split} file '{path}' not found; check the --{split} path")
            given[split] = read_tagged(path, config.xpos)
    held_out = [split for split in ("dev", "test") if split not in given]
    train, dev, test = _split_tenths(read_tagged(config.corpus, config.xpos), held_out)
    return Splits(str(config.corpus), train, given.get("dev", dev), given.get("test", test))


def read_tagged(path, xpos: bool = False) -> list[Sentence]:
    """The sentences of a CoNLL-U file (UPOS tags, or XPOS when `xpos`) or of a file with one
    sentence per line of `word/TAG` tokens; the format is told from the name and first line."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise TaggerError(f"corpus file '{path}' not found") from None
    except OSError as e:
        raise TaggerError(f"corpus file '{path}' cannot be read ({e.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise CorpusFormatError(path, line, f"not UTF-8 text (byte 0x{data[e.start]:02x}); "
                                            "save the file as UTF-8") from None
    # Splitting on "\n" alone (not str.splitlines) keeps line numbers the same as an editor's.
    lines = [line.rstrip("\r") for line in text.removeprefix("\ufeff").split("\n")]
    if _is_conllu(path, lines):
        sentences = _parse_conllu(path, lines, column=4 if xpos else 3)
    else:
        sentences = _parse_word_slash_tag(path, lines)
    if not sentences:
        raise CorpusFormatError(path, 1, "no sentences found; expected CoNLL-U or one sentence "
                                         "of word/TAG tokens per line")
    return sentences


def read_silver(path) -> list[Sentence]:
    """Sentences a teacher tagged, from JSON Lines written by tagger.distill: one sentence a line,
    `{"tokens": [...], "tags": [{"NN": 0.83, "JJ": 0.15}, ...]}`, each token's tags the teacher's
    probabilities (an empty dict: nothing to learn at that token)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        raise TaggerError(f"silver file '{path}' not found; make one with python -m "
                          "tagger.distill") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TaggerError(f"silver file '{path}' cannot be read ({e})") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if len(record["tokens"]) != len(record["tags"]) or not all(
                    isinstance(t, dict) for t in record["tags"]):
                raise ValueError("one dict of tag probabilities per token expected")
        except (ValueError, KeyError, TypeError) as e:
            raise CorpusFormatError(path, number, f"not a silver sentence ({e}); expected "
                                    '{"tokens": [...], "tags": [{"NN": 0.9, ...}, ...]}') from None
        records.append(record)
    return silver_sentences(records)


def silver_sentences(records) -> list[Sentence]:
    """Silver records ({"tokens", "tags"}, tagger.silver) as training sentences,
    [(token, {tag: p}), ...]; a record without tokens teaches nothing and is left out."""
    return [list(zip(r["tokens"], r["tags"])) for r in records if r["tokens"]]


def _is_conllu(path, lines):
    if str(path).lower().endswith(".conllu"):
        return True
    first = next((line for line in lines if line.strip() and not line.startswith("#")), "")
    return len(first.split("\t")) == 10


def _parse_word_slash_tag(path, lines):
    sentences = []
    for number, line in enumerate(lines, 1):
        sentence = []
        for token in line.split():
            # The last "/" separates the tag, so words such as "1/2" keep theirs.
            word, slash, tag = token.rpartition("/")
            if not (slash and word and tag):
                raise CorpusFormatError(path, number, f"expected word/TAG, got {_shorten(token)}")
            sentence.append((word, tag))
        if sentence:
            sentences.append(sentence)
    return sentences


def _parse_conllu(path, lines, column):
    name = "XPOS" if column == 4 else "UPOS"
    sentences, sentence = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            if sentence:
                sentences.append(sentence)
            sentence = []
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 10:
            raise CorpusFormatError(path, number, f"expected 10 tab-separated columns, got "
                                                  f"{len(fields)}")
        # Multiword tokens (1-2) repeat words that follow, and empty nodes (1.1) are not words.
        if "-" in fields[0] or "." in fields[0]:
            continue
        word, tag = fields[1], fields[column]
        if not word:
            raise CorpusFormatError(path, number, "expected a word form in column 2, got ''")
        if tag in ("", "_"):
            hint = "; drop --xpos to learn UPOS" if name == "XPOS" else ""
            raise CorpusFormatError(path, number, f"expected a {name} tag in column {column + 1}, "
                                                  f"got {_shorten(tag)}{hint}")
        sentence.append((word, tag))
    if sentence:
        sentences.append(sentence)
    return sentences


def _shorten(text, width=40):
    # repr keeps control characters from breaking the one-line message.
    return repr(text if len(text) <= width else text[:width] + "...")


def batches(sentences: list, batch_size: int, shuffle: bool = False,
            generator: torch.Generator | None = None) -> Iterator[list]:
    """Lists of at most `batch_size` of the given items, each item once, grouped by length so
    that little padding is wasted; with `shuffle`, in an order drawn from `generator` only."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    by_length = [len(item) for item in sentences].__getitem__
    if shuffle:
        order = torch.randperm(len(sentences), generator=generator).tolist()
        pool = POOL_BATCHES * batch_size
        order = [i for start in range(0, len(order), pool)
                 for i in sorted(order[start:start + pool], key=by_length)]
    else:
        order = sorted(range(len(sentences)), key=by_length)
    # Pools are whole numbers of batches, so no batch mixes two pools.
    chunks = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    if shuffle:
        chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=generator).tolist()]
    for chunk in chunks:
        yield [sentences[i] for i in chunk]
