"""Tests for tagger.data: the bundled and NLTK corpora, the two file formats and their errors,
and length-bucketed batching."""

import os
import subprocess
import sys

import nltk
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import needs_nltk
from tagger import data
from tagger.config import Config
from tagger.data import Splits, batches, load_corpus, read_silver, read_tagged, require_nltk
from tagger.errors import CorpusFormatError, TaggerError

PTB_TAGS = {"CC", "CD", "DT", "EX", "FW", "IN", "JJ", "JJR", "JJS", "LS", "MD", "NN", "NNS", "NNP",
            "NNPS", "PDT", "POS", "PRP", "PRP$", "RB", "RBR", "RBS", "RP", "SYM", "TO", "UH", "VB",
            "VBD", "VBG", "VBN", "VBP", "VBZ", "WDT", "WP", "WP$", "WRB", ".", ",", ":", "``",
            "''", "-LRB-", "-RRB-", "#", "$"}
UNIVERSAL_TAGS = {"ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRT", "PRON", "VERB", ".",
                  "X"}

CONLLU = """\
# sent_id = 1
# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t_\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


needs_treebank = needs_nltk("corpora/treebank")
needs_brown = needs_nltk("corpora/brown", "taggers/universal_tagset")


# --- bundled and NLTK corpora -------------------------------------------------------------------

def test_toy_corpus_has_the_required_sentences_and_ptb_tags():
    splits = load_corpus(Config(corpus="toy"))
    assert splits.name == "toy"
    assert len(splits.train) >= 80 and len(splits.dev) >= 15 and len(splits.test) >= 15
    for words in ("The dog ate the apple", "Everybody read that book"):
        tags = ["DT", "NN", "VBD", "DT", "NN"] if words[0] == "T" else ["NN", "VBD", "DT", "NN"]
        assert list(zip(words.split(), tags)) in splits.train
    tags = {tag for split in (splits.train, splits.dev, splits.test) for s in split for _, tag in s}
    assert tags <= PTB_TAGS


def test_limit_keeps_the_first_training_sentences():
    full = load_corpus(Config(corpus="toy"))
    limited = load_corpus(Config(corpus="toy", limit=5))
    assert limited.train == full.train[:5] and limited.dev == full.dev


def test_auto_falls_back_to_toy_with_one_line_note(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    assert load_corpus(Config(corpus="auto")).name == "toy"
    assert capsys.readouterr().err == data.TREEBANK_MISSING_NOTE + "\n"


@needs_treebank
def test_auto_picks_english_when_nltk_has_its_corpora_else_the_treebank(monkeypatch):
    monkeypatch.setattr(data, "_load_treebank", lambda keep_traces: data.Splits("treebank", [], [], []))
    monkeypatch.setattr(data, "_conll2000_train", lambda: [])
    monkeypatch.setattr(data, "_brown_penn", lambda tags: [])
    assert load_corpus(Config(corpus="auto")).name == "english"
    monkeypatch.setattr(data, "nltk_has", lambda resource: resource == "corpora/treebank")
    assert load_corpus(Config(corpus="auto")).name == "treebank"


needs_english = needs_nltk("corpora/treebank", "corpora/conll2000", "corpora/brown")


@needs_english
def test_wsj_adds_conll2000_train_only_and_keeps_the_treebank_dev_and_test(monkeypatch):
    from nltk.corpus import conll2000

    read = []
    original = conll2000.tagged_sents
    monkeypatch.setattr(conll2000, "tagged_sents",
                        lambda fileids=None, **kw: read.append(fileids) or original(fileids, **kw))
    treebank_splits = load_corpus(Config(corpus="treebank"))
    wsj = load_corpus(Config(corpus="wsj"))
    assert read == ["train.txt"]  # test.txt is held out
    assert wsj.dev == treebank_splits.dev and wsj.test == treebank_splits.test
    assert wsj.train[:len(treebank_splits.train)] == treebank_splits.train
    extra = wsj.train[len(treebank_splits.train):]
    assert len(extra) == 8936 and sum(map(len, extra)) == 211727
    tags = {tag for s in extra for _, tag in s}
    assert tags <= PTB_TAGS and "-LRB-" in tags  # conll2000 writes "(" for the tag


@needs_english
@pytest.mark.slow
def test_english_trains_on_a_new_slice_of_brown_each_epoch():
    english = load_corpus(Config(corpus="english"))
    assert english.train == load_corpus(Config(corpus="wsj")).train
    assert len(english.more) > 57000
    seen = []
    for epoch in range(1, 5):
        sentences = english.epoch_train(epoch, 0.25)
        assert sentences[:len(english.train)] == english.train
        seen += sentences[len(english.train):]
    assert len(seen) == len(english.more) and all(a is b for a, b in zip(seen, english.more))
    assert english.epoch_train(5, 0.25) == english.epoch_train(1, 0.25)
    assert english.epoch_train(3, 1.0) == english.train + english.more


needs_masc = needs_nltk("corpora/masc_tagged")


@needs_masc
def test_masc_dev_has_every_sentence_of_its_files_with_penn_tags_or_none():
    from nltk.corpus import masc_tagged

    genres = data.masc_dev()
    fileids = data.MASC_DEV_FILEIDS.read_text().split()
    assert len(fileids) == 173 and len(genres) == 16
    reference = [s for f in fileids for s in masc_tagged.tagged_sents(f) if s]
    ours = [s for sentences in genres.values() for s in sentences]
    assert len(ours) == len(reference)
    assert sorted(w for s in ours for w, _ in s) == sorted(w for s in reference for w, _ in s)
    tags = {tag for s in ours for _, tag in s}
    assert None in tags and tags - {None} <= PTB_TAGS - {"``", "''"}
    assert all(tag is None for s in ours for w, tag in s if w in ("“", "”", "’", "\"", "'"))
    brackets = {tag for s in ours for w, tag in s if w == "("}
    assert brackets == {"-LRB-"}


@pytest.fixture(scope="module")
def treebank():
    return load_corpus(Config(corpus="treebank")), load_corpus(Config(corpus="treebank",
                                                                      keep_traces=True))


def treebank_reference(numbers, keep_traces):
    from nltk.corpus import treebank
    sentences = treebank.tagged_sents([f"wsj_{n:04d}.mrg" for n in numbers])
    sentences = [[t for t in s if keep_traces or t[1] != "-NONE-"] for s in sentences]
    return [s for s in sentences if s]


@needs_treebank
def test_treebank_is_split_by_file_like_nltk_reads_it(treebank):
    plain, traced = treebank
    ranges = {"train": range(1, 141), "dev": range(141, 171), "test": range(171, 200)}
    for splits, keep_traces in ((plain, False), (traced, True)):
        for name, numbers in ranges.items():
            assert getattr(splits, name) == treebank_reference(numbers, keep_traces), name
    assert plain.name == "treebank" and len(plain.train) > 3000


@needs_treebank
def test_treebank_drops_traces_unless_asked(treebank):
    plain, traced = treebank
    assert not any(tag == "-NONE-" for s in plain.train for _, tag in s)
    assert any(tag == "-NONE-" for s in traced.train for _, tag in s)


@needs_brown
def test_brown_uses_universal_tags_and_a_split_by_file(monkeypatch):
    from nltk.corpus import brown
    fileids = sorted(brown.fileids())[:12]
    # The whole of Brown takes long to read; the split rule shows on its first dozen files.
    monkeypatch.setattr(brown, "fileids", lambda: fileids)
    splits = load_corpus(Config(corpus="brown"))
    expected_dev = [list(s) for s in brown.tagged_sents(fileids[8], tagset="universal")]
    expected_test = [list(s) for s in brown.tagged_sents(fileids[9], tagset="universal")]
    assert splits.name == "brown" and splits.dev == expected_dev and splits.test == expected_test
    assert len(splits.train) == len(brown.tagged_sents(fileids[:8] + fileids[10:]))
    assert {tag for s in splits.train for _, tag in s} <= UNIVERSAL_TAGS


def test_require_nltk_names_the_resource_and_the_download():
    with pytest.raises(TaggerError) as e:
        require_nltk("corpora/no_such_corpus", "no_such_corpus")
    assert str(e.value) == ("NLTK resource 'corpora/no_such_corpus' not found; get it with: python "
                            "-m nltk.downloader no_such_corpus (or set NLTK_DATA to a folder that "
                            "has it)")


def test_cli_names_a_missing_nltk_resource_and_its_download(tmp_path, run_cli, one_line_error):
    env = {**os.environ, "NLTK_DATA": str(tmp_path / "empty"), "HOME": str(tmp_path)}
    probe = subprocess.run([sys.executable, "-c", "import nltk; nltk.data.find('corpora/treebank/')"],
                           env=env, capture_output=True)
    if probe.returncode == 0:
        pytest.skip("the treebank is installed system-wide, where NLTK_DATA cannot hide it")
    result = run_cli("tagger.train", "--corpus", "treebank", "--no-progress", cwd=tmp_path, env=env)
    one_line_error(result, "NLTK resource 'corpora/treebank' not found",
                   "get it with: python -m nltk.downloader treebank")
    assert os.listdir(tmp_path) == []


@needs_treebank
def test_require_nltk_finds_zipped_packages_on_nltks_path():
    require_nltk("corpora/treebank", "treebank")


def test_unknown_corpus_and_missing_split_files_are_user_errors(tmp_path):
    with pytest.raises(TaggerError, match="corpus 'nowhere' is neither toy, treebank, wsj, english, "
                                          "brown nor"):
        load_corpus(Config(corpus="nowhere"))
    train = write(tmp_path, "train.txt", "a/DT\n")
    with pytest.raises(TaggerError, match="dev file '.*missing.txt' not found"):
        load_corpus(Config(corpus=str(train), dev=str(tmp_path / "missing.txt")))


# --- user files ---------------------------------------------------------------------------------

def words(split):
    return [sentence[0][0] for sentence in split]


def test_user_file_is_split_in_tenths_unless_dev_and_test_are_given(tmp_path):
    train = write(tmp_path, "all.txt", "".join(f"w{i}/NN\n" for i in range(25)))
    splits = load_corpus(Config(corpus=str(train)))
    assert splits.name == str(train)
    assert words(splits.dev) == ["w8", "w18"] and words(splits.test) == ["w9", "w19"]
    assert len(splits.train) == 21
    dev = write(tmp_path, "dev.txt", "d/NN\n")
    splits = load_corpus(Config(corpus=str(train), dev=str(dev)))
    assert words(splits.dev) == ["d"] and words(splits.test) == ["w9", "w19"]
    assert "w8" in words(splits.train) and len(splits.train) == 23
    test = write(tmp_path, "test.txt", "t/NN\n")
    splits = load_corpus(Config(corpus=str(train), dev=str(dev), test=str(test), limit=3))
    assert words(splits.train) == ["w0", "w1", "w2"] and words(splits.test) == ["t"]


def test_word_slash_tag_splits_at_the_last_slash(tmp_path):
    path = write(tmp_path, "a.txt", "\ufeffThe/DT 1/2/CD  cup/NN\r\n\n   \nAnd/CC/x ./.\n")
    assert read_tagged(path) == [[("The", "DT"), ("1/2", "CD"), ("cup", "NN")],
                                 [("And/CC", "x"), (".", ".")]]


def test_conllu_reads_upos_or_xpos_and_skips_multiword_tokens(tmp_path):
    path = write(tmp_path, "a.conllu", CONLLU)
    assert read_tagged(path) == [[("Do", "AUX"), ("n't", "PART"), ("go", "VERB"), (".", "PUNCT")],
                                 [("Hi", "INTJ")]]
    assert read_tagged(path, xpos=True)[0] == [("Do", "VBP"), ("n't", "RB"), ("go", "VB"),
                                               (".", ".")]


def test_conllu_is_recognised_by_its_columns_whatever_the_name(tmp_path):
    assert read_tagged(write(tmp_path, "ud.txt", CONLLU))[1] == [("Hi", "INTJ")]


@pytest.mark.parametrize("name, content, line, message", [
    ("a.txt", "a/DT b/NN\n\nc/NN xyz\n", 3, "expected word/TAG, got 'xyz'"),
    ("a.txt", "a/DT /NN\n", 1, "expected word/TAG, got '/NN'"),
    ("a.txt", "a/DT\ndog/\n", 2, "expected word/TAG, got 'dog/'"),
    ("a.txt", b"a/DT\nb/NN\n\xff/NN\n", 3, "not UTF-8 text (byte 0xff)"),
    ("a.conllu", b"# \xc3\n", 1, "not UTF-8 text"),
    ("a.txt", "", 1, "no sentences found"),
    ("a.txt", "\n  \n", 1, "no sentences found"),
    ("a.conllu", "# only a comment\n\n", 1, "no sentences found"),
    ("a.conllu", CONLLU + "\n2\tbad\tline\n", 12, "expected 10 tab-separated columns, got 3"),
    ("a.conllu", "1\tx\tx\t_\tNN\t_\t0\troot\t_\t_\n", 1,
     "expected a UPOS tag in column 4, got '_'"),
    ("a.conllu", "1\t\tx\tX\tNN\t_\t0\troot\t_\t_\n", 1, "expected a word form in column 2"),
])
def test_malformed_files_name_the_line(tmp_path, name, content, line, message):
    path = write(tmp_path, name, content)
    with pytest.raises(CorpusFormatError) as e:
        read_tagged(path)
    assert e.value.line == line and str(e.value).startswith(f"{path}:{line}: {message}")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("name, content, message", [
    ("a.txt", "The/DT dog/NN\nate the/DT\n", "a.txt:2: expected word/TAG, got 'ate'"),
    ("a.conllu", CONLLU + "5\tx\tx\tNOUN\n", "a.conllu:11: expected 10 tab-separated columns, "
                                                 "got 4"),
    ("a.txt", "", "a.txt:1: no sentences found; expected CoNLL-U or one sentence of word/TAG "
                  "tokens per line"),
    ("a.txt", b"a/DT\n\xe9t\xe9/NN\n", "a.txt:2: not UTF-8 text (byte 0xe9); save the file as "
                                          "UTF-8"),
    ("nope.txt", None, "corpus 'nope.txt' is neither toy, treebank, wsj, english, brown nor an "
                       "existing file; check the path"),
], ids=["no-tag", "conllu-columns", "empty", "not-utf8", "missing"])
def test_cli_names_the_file_and_line_of_a_bad_corpus(tmp_path, run_cli, one_line_error, name,
                                                     content, message):
    if content is not None:
        write(tmp_path, name, content)
    result = run_cli("tagger.train", "--corpus", name, "--no-progress", "--threads", "1",
                     cwd=tmp_path)
    assert one_line_error(result) == f"error: {message}"
    assert os.listdir(tmp_path) == ([name] if content is not None else [])  # nothing saved


def test_missing_xpos_suggests_upos(tmp_path):
    path = write(tmp_path, "a.conllu", "1\tx\tx\tNOUN\t_\t_\t0\troot\t_\t_\n")
    with pytest.raises(CorpusFormatError, match=r"a.conllu:1: expected a XPOS tag .*drop --xpos"):
        read_tagged(path, xpos=True)


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(TaggerError, match="corpus file '.*nope.txt' not found"):
        read_tagged(tmp_path / "nope.txt")


# Bytes biased towards the characters the two formats care about, plus anything at all.
FILE_BYTES = st.one_of(
    st.binary(max_size=200),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=200).map(str.encode),
    st.text(alphabet="ab/_-.#\t\n\r 1\u00e9", max_size=200).map(str.encode),
    st.lists(st.sampled_from(["1\tx\tx\tNOUN\tNN\t_\t0\troot\t_\t_", "1-2\ta", "# c", "", "a/B",
                              "\xff", "2.1\tx\t_\t_\t_\t_\t_\t_\t_\t_"]), max_size=8)
    .map(lambda lines: "\n".join(lines).encode("utf-8", "surrogateescape")),
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=150, deadline=None)
@given(content=FILE_BYTES, suffix=st.sampled_from([".txt", ".conllu"]), xpos=st.booleans())
def test_any_bytes_give_sentences_or_a_corpus_format_error(scratch, content, suffix, xpos):
    path = scratch / f"fuzz{suffix}"
    path.write_bytes(content)
    try:
        sentences = read_tagged(path, xpos)
    except CorpusFormatError as e:
        assert str(e).startswith(f"{path}:") and "\n" not in str(e)
    else:
        assert sentences and all(s and all(w and t for w, t in s) for s in sentences)


# --- batches ------------------------------------------------------------------------------------

def items_of_lengths(lengths):
    return [["w"] * n for n in lengths]


def padding(batch_list):
    return sum(max(map(len, b)) * len(b) - sum(map(len, b)) for b in batch_list)


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(1, 30), max_size=60), batch_size=st.integers(1, 8),
       shuffle=st.booleans(), seed=st.integers(0, 2**31))
def test_batches_cover_every_item_once_within_batch_size(lengths, batch_size, shuffle, seed):
    items = items_of_lengths(lengths)
    out = list(batches(items, batch_size, shuffle, torch.Generator().manual_seed(seed)))
    assert sorted(id(x) for b in out for x in b) == sorted(id(x) for x in items)
    assert all(1 <= len(b) <= batch_size for b in out)


def test_batches_without_shuffle_are_sorted_by_length():
    items = items_of_lengths([5, 1, 3, 3, 2, 8, 1])
    out = list(batches(items, 3))
    assert [[len(x) for x in b] for b in out] == [[1, 1, 2], [3, 3, 5], [8]]
    assert out[0][0] is items[1]


def test_shuffled_batches_are_deterministic_and_length_bucketed():
    g = torch.Generator().manual_seed(0)
    items = items_of_lengths(torch.randint(1, 40, (200,), generator=g).tolist())
    def shuffled(seed):
        return list(batches(items, 8, shuffle=True, generator=torch.Generator().manual_seed(seed)))

    def ids(batch_list):
        return [[id(x) for x in b] for b in batch_list]

    assert ids(shuffled(1)) == ids(shuffled(1)) and ids(shuffled(1)) != ids(shuffled(2))
    # Fewer items than one pool: the shuffled batches waste no more padding than sorted ones.
    assert padding(shuffled(1)) == padding(list(batches(items, 8))) < padding(
        [items[i:i + 8] for i in range(0, len(items), 8)])


def test_epochs_default_to_the_corpus_s_own_and_follow_the_flag():
    assert data.epochs_for(Config(), "english") == 5
    assert data.epochs_for(Config(), "wsj") == 12
    assert data.epochs_for(Config(), "treebank") == 30
    assert data.epochs_for(Config(epochs=3), "english") == 3


def test_each_epoch_takes_the_next_share_of_the_silver_sentences():
    gold, silver = [[("a", "DT")]], [[(str(i), {"NN": 1.0})] for i in range(8)]
    splits = Splits("toy", gold, [], [], silver=silver)
    taken = [splits.epoch_train(epoch, 1.0, 0.25)[1:] for epoch in range(1, 6)]
    assert all(len(t) == 2 and splits.epoch_train(1, 1.0, 0.25)[0] == gold[0] for t in taken)
    assert [s for t in taken[:4] for s in t] == silver and taken[4] == taken[0]


def test_read_silver_reads_json_lines_and_names_the_line_it_cannot_read(tmp_path):
    path = tmp_path / "silver.jsonl"
    path.write_text('{"tokens": ["Hi", "!"], "tags": [{"UH": 0.9, "NNP": 0.1}, {}]}\n\n'
                    '{"tokens": ["Hi"], "tags": []}\n')
    with pytest.raises(CorpusFormatError, match=r"silver.jsonl:3: not a silver sentence"):
        read_silver(path)
    path.write_text('{"tokens": ["Hi", "!"], "tags": [{"UH": 0.9, "NNP": 0.1}, {}]}\n')
    assert read_silver(path) == [[("Hi", {"UH": 0.9, "NNP": 0.1}), ("!", {})]]
    with pytest.raises(TaggerError, match="not found; make one with python -m tagger.distill"):
        read_silver(tmp_path / "none.jsonl")
