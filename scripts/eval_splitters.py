#!/usr/bin/env python
"""Sentence splitters on running English text: which one the tagger should split paragraphs with.

Running text is rebuilt from gold tokenized sentences (NLTK's TreebankWordDetokenizer, the
sentences of a paragraph joined by one space), so the character offset where each gold sentence
starts is known. A splitter is a function paragraph -> sentence start offsets; its boundaries
(the starts of every sentence but a paragraph's first, each moved to its first non-whitespace
character) are scored against the gold ones: precision, recall and F1, micro-averaged over all
boundaries of a corpus. Corpora (evaluation only; nothing here trains on them):

    treebank-dev   NLTK's Penn treebank sample, wsj_0141-wsj_0170, one paragraph per file
    treebank-test  the same, wsj_0171-wsj_0199 (traces, tag -NONE-, dropped)
    brown          every 10th file of Brown (50 files), its paragraphs; its doubled `? ?` and
                   `! !` made single and its sentences that end at `; ;` joined to the next
    masc           MASC's dev files (corpora/masc-dev-fileids.txt), its paragraphs
    nps-chat       NPS Chat: the posts' own text (System posts, JOIN/PART..., left out), runs of
                   10 consecutive posts of a file joined by a space as paragraphs

Splitters: NLTK Punkt trained here with PunktTrainer on several sets of NLTK's raw corpora (never
on the evaluation corpora), pysbd, syntok, sentencex and blingfire (each skipped, with a note,
where it does not import: `pip install sentencex blingfire`), and two baselines: never split,
and a naive regex. Speed is characters per second over all the text, best of --repeat runs, one
thread; start-up is the time a fresh interpreter takes to import a splitter, build it and split
one paragraph (best of 5).

    NLTK_DATA=../shared/nltk_data .venv/bin/python scripts/eval_splitters.py
    ... scripts/eval_splitters.py --limit 5 --punkt speeches   # a quick run
    ... scripts/eval_splitters.py --errors 8 --cache /tmp/punkt  # sample of each one's errors

Prints the CPU, a Markdown table, Punkt's training times and the size of its saved parameters,
the start-up times, each splitter's errors on written text counted by kind, and each splitter's
sentences on a few hand-written paragraphs (docs/splitting.md discusses them). A missing NLTK
data package ends the run with one line `error: ...` and exit code 2.
"""

import json
import os
import platform
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from bench_busy import cpu_name

from tagger.data import require_nltk
from tagger.errors import ArgumentParser, cli

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parent.parent
MASC_DEV_FILEIDS = ROOT / "corpora" / "masc-dev-fileids.txt"
TREEBANK_ROWS = {"treebank-dev": (141, 170), "treebank-test": (171, 199)}
BROWN_STEP = 10
CHAT_POSTS = 10
EVAL_PACKAGES = ["treebank", "brown", "masc_tagged", "nps_chat"]

# Training sets for Punkt. abc (Australian news) writes "Mr" and "Dr" without a period, which
# outvotes state_union's "Mr." and "Dr.": hence the sets with and without it. The lowercased,
# pre-tokenized one-sentence-a-line corpora (LOWERCASE) come only in "all".
SPEECHES = ["state_union"]
NEWS = ["abc", "state_union"]
CASED = ["state_union", "webtext", "product_reviews_2", "pros_cons"]
LOWERCASE = ["movie_reviews", "product_reviews_1", "sentence_polarity", "subjectivity"]
PUNKT_SETS = {"speeches": SPEECHES, "news": NEWS, "cased": CASED,
              "cased+abc": CASED + ["abc"], "all": CASED + ["abc"] + LOWERCASE}

HAND_PARAGRAPHS = [
    "Mr. Smith went to Washington. He didn't like it there.",
    "Call me at 555-0123 or email bob@example.com! :)",
    "lol that movie was sooo good #bestever @jenny https://example.com/a?b=1",
    "Dr. Who (the 2005 one) costs $3.50... “Really?” she said.",
    "See https://example.com/a?b=1. Then e.g. go to the U.S. today. It is 3 p.m. now! Really?! yes",
    "The committee met on Tuesday to discuss the\nbudget. Members agreed that the plan was\n"
    "too costly. They asked Mr. Jones for a new\none by May.",
]

BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}
EMOTICON = re.compile(r"^(?:[:;=8xX][-o^']?[()\[\]DPpOo/\\|*3@$]+|<3+|[)(\]\[][-o^']?[:;=])$")
SUFFIXES = set("com org net edu gov tv uk doc docx pdf png gif jpg txt nsf xls ppt htm html pinerc"
               .split())
NAIVE = re.compile(r"[.!?]\s+(?=[A-Z])")


def require_corpora(packages):
    """The one-line error (tagger.data's) unless NLTK's search path has every corpus package."""
    for package in packages:
        require_nltk(f"corpora/{package}", package)


# ---------------------------------------------------------------- text rebuilt from gold tokens

def fix_tokens(tokens, quote_open):
    """Token forms the detokenizer does not know, fixed: bracket tags to brackets, straight `"`
    to `` or '' (alternating; `quote_open` carries the state across a paragraph), runs of `.`, `!`,
    `?` or `-` tokens merged, a number split at its decimal point rejoined, and the extra final
    `.` that the treebank adds after `U.S.` dropped."""
    out = []
    for token in tokens:
        token = BRACKETS.get(token, token)
        if token == '"':
            token = "''" if quote_open[0] else "``"
            quote_open[0] = not quote_open[0]
        if out and token in ".!?-" and len(token) == 1 and out[-1] and set(out[-1]) == {token}:
            out[-1] += token
            continue
        if len(out) > 1 and out[-1] == "." and out[-2][-1:].isdigit() and token[:1].isdigit():
            out.pop()
            out[-1] += "." + token  # MASC's "$3 . 5 million"
            continue
        out.append(token)
    if len(out) > 1 and out[-1] == "." and out[-2].endswith(".") and set(out[-2]) != {"."}:
        out.pop()
    return join_addresses(out)


def join_addresses(tokens):
    """E-mail addresses and file names that MASC splits at `.` or `@` (`aol . com`, `skean .
    nsf`, `bob @ aol . com`) made whole again, and `@` glued to the name after it (`@jenny`)."""
    out, i = [], 0
    while i < len(tokens):
        token, following = tokens[i], tokens[i + 1:i + 3] + ["", ""]
        nxt, after = following[0], following[1]
        address = nxt.lower() in SUFFIXES or "@" in nxt or (token == "@" and after == ".")
        if token in (".", "@") and out and out[-1][-1:].isalnum() and address:
            out[-1] += token + nxt
            i += 2
        elif token == "@" and nxt[:1].isalnum():
            out.append(token + nxt)
            i += 2
        else:
            out.append(token)
            i += 1
    return out


def detokenize(tokens, detokenizer):
    """One sentence's text: emoticons kept whole, curly quotes hugging what they quote, curly
    apostrophes inside words."""
    kept = {}
    for i, token in enumerate(tokens):
        if EMOTICON.match(token):
            kept[f"Qzemoticon{i}qz"] = token
            tokens[i] = f"Qzemoticon{i}qz"
    text = detokenizer.detokenize(tokens)
    for placeholder, token in kept.items():
        text = text.replace(placeholder, token)
    text = re.sub(r"([“‘(\[{]) +", r"\1", text)
    text = re.sub(r" +([”’])", r"\1", text)
    return re.sub(r"(\w)’ (s|t|d|m|ll|re|ve)\b", r"\1’\2", text).strip()  # MASC's "What’ s"


def closing_quotes_back(sentences):
    """A closing quote that the corpus put at the start of the next sentence (MASC, Brown) goes
    back to the end of the sentence it closes."""
    for before, sentence in zip(sentences, sentences[1:]):
        while before and len(sentence) > 1 and sentence[0] in ("''", "”"):
            before.append(sentence.pop(0))
    return sentences


def paragraph(sentences):
    """(text, gold sentence starts) of sentence strings joined by one space."""
    starts, position = [], 0
    sentences = [s for s in sentences if s.strip()]
    for sentence in sentences:
        starts.append(position)
        position += len(sentence) + 1
    return " ".join(sentences), starts


def rebuilt(paragraphs_of_tokens):
    """Paragraphs (lists of token lists) -> (text, starts) pairs."""
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    detokenizer = TreebankWordDetokenizer()
    out = []
    for sentences in paragraphs_of_tokens:
        quote_open = [False]
        fixed = closing_quotes_back([fix_tokens(s, quote_open) for s in sentences if s])
        texts = [detokenize(s, detokenizer) for s in fixed if s]
        if texts:
            out.append(paragraph(texts))
    return out


def treebank_paragraphs(first, last, limit):
    """One paragraph per treebank file wsj_{first}..wsj_{last}, traces dropped."""
    from nltk.corpus import treebank

    files = [f for f in treebank.fileids() if first <= int(f[4:8]) <= last][:limit or None]
    return rebuilt([[w for w, tag in s if tag != "-NONE-"] for s in treebank.tagged_sents(f)]
                   for f in files)


def brown_paragraphs(limit):
    from nltk.corpus import brown

    files = brown.fileids()[::BROWN_STEP][:limit or None]
    return rebuilt(brown_fixed(p) for f in files for p in brown.paras(f))


def brown_fixed(sentences):
    """Brown's doubled final `? ?`, `! !` and `; ;` made single, and a sentence that ends at a
    semicolon joined to the next one (Brown ends sentences there; no splitter should)."""
    out = []
    for sentence in map(list, sentences):
        if len(sentence) > 1 and sentence[-1] == sentence[-2] and sentence[-1] in "?!;":
            sentence.pop()
        if out and out[-1][-1] == ";":
            out[-1] += sentence
        else:
            out.append(sentence)
    return out


def masc_paragraphs(limit):
    from nltk.corpus import masc_tagged

    files = MASC_DEV_FILEIDS.read_text().split()[:limit or None]
    return rebuilt(p for f in files for p in masc_tagged.paras(f))


def chat_paragraphs(limit):
    """Runs of CHAT_POSTS consecutive posts of a file, each post's own text a gold sentence."""
    from nltk.corpus import nps_chat

    out = []
    for fileid in nps_chat.fileids():
        posts = [" ".join((p.text or "").split()) for p in nps_chat.xml_posts(fileid)
                 if p.get("class") != "System"]
        posts = [p for p in posts if p]
        out += [paragraph(posts[i:i + CHAT_POSTS]) for i in range(0, len(posts), CHAT_POSTS)]
    return out[:limit] if limit else out


def corpora(limit):
    """Corpus name -> [(paragraph text, gold starts)]; `limit` caps the files (paragraphs for
    chat) read from each."""
    found = {name: treebank_paragraphs(*span, limit) for name, span in TREEBANK_ROWS.items()}
    found["brown"] = brown_paragraphs(limit)
    found["masc"] = masc_paragraphs(limit)
    found["nps-chat"] = chat_paragraphs(limit and 10 * limit)
    return found


# ---------------------------------------------------------------- splitters

def first_char(text, start):
    """Offset of the first non-whitespace character at or after `start` (len(text) if none)."""
    match = re.compile(r"\S").search(text, start)
    return match.start() if match else len(text)


def punkt_params(sets, cache):
    """Name -> (PunktParameters, training seconds), trained on the raw NLTK corpora of each set,
    or read back from JSON in `cache` (a folder) when a run has saved them there."""
    from nltk.tokenize.punkt import PunktTrainer

    out = {}
    for name in sets:
        saved = cache and Path(cache) / f"punkt-{name}.json"
        if saved and saved.exists():
            blob = json.loads(saved.read_text())
            out[name] = (params_from_json(blob), blob["train_seconds"])
            continue
        start = time.perf_counter()
        trainer = PunktTrainer()
        for package in PUNKT_SETS[name]:
            trainer.train(corpus_reader(package).raw(), finalize=False)
        trainer.finalize_training()
        seconds = time.perf_counter() - start
        out[name] = (trainer.get_params(), seconds)
        if saved:
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps(params_to_json(out[name][0]) | {"train_seconds": seconds}))
    return out


def corpus_reader(package):
    import nltk.corpus

    return getattr(nltk.corpus, package)


def params_to_json(params):
    """Punkt's learnt parameters as JSON-able lists (sorted, so the file is reproducible)."""
    return {"abbrev_types": sorted(params.abbrev_types),
            "collocations": sorted(list(c) for c in params.collocations),
            "sent_starters": sorted(params.sent_starters),
            "ortho_context": dict(sorted(params.ortho_context.items()))}


def params_from_json(blob):
    from nltk.tokenize.punkt import PunktParameters

    params = PunktParameters()
    params.abbrev_types = set(blob["abbrev_types"])
    params.collocations = {tuple(c) for c in blob["collocations"]}
    params.sent_starters = set(blob["sent_starters"])
    params.ortho_context.update(blob["ortho_context"])
    return params


def punkt_splitter(params):
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    tokenizer = PunktSentenceTokenizer(params)
    return lambda text: [start for start, _ in tokenizer.span_tokenize(text)]


def pysbd_splitter():
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    return lambda text: [span.start for span in segmenter.segment(text)]


def syntok_splitter():
    from syntok import segmenter

    return lambda text: [sentence[0].offset for para in segmenter.analyze(text)
                         for sentence in para if sentence]


def sentencex_splitter():
    from sentencex import get_sentence_boundaries

    return lambda text: [b["start_index"] for b in get_sentence_boundaries("en", text)]


def blingfire_splitter():
    import blingfire

    return lambda text: [start for start, _ in blingfire.text_to_sentences_and_offsets(text)[1]]


def never_split(text):
    return [0]


def naive_regex(text):
    return [0] + [m.end() for m in NAIVE.finditer(text)]


def tagger_splitter():
    """What the tagger runs: syntok, reading web tokens as words, emoticons with their sentence."""
    from tagger.sentences import split_sentences

    return lambda text: [start for start, _ in split_sentences(text)]


LIBRARY_SPLITTERS = {"tagger.sentences (syntok+)": tagger_splitter,
                     "pysbd": pysbd_splitter, "syntok": syntok_splitter,
                     "sentencex": sentencex_splitter, "blingfire": blingfire_splitter}


def splitters(punkt):
    """Name -> split function: Punkt per training set, the libraries that import, baselines."""
    out = {f"punkt ({name})": punkt_splitter(params) for name, (params, _) in punkt.items()}
    for name, make in LIBRARY_SPLITTERS.items():
        try:
            out[name] = make()
        except Exception as error:  # a library that does not install or import is skipped
            print(f"note: {name} skipped: {type(error).__name__}: {error}", file=sys.stderr)
    out["never split"] = never_split
    out["naive regex"] = naive_regex
    return out


# ---------------------------------------------------------------- scoring and timing

def boundaries(text, starts):
    """Sentence starts other than the paragraph's first, each at its first non-whitespace char."""
    return {first_char(text, s) for s in starts} - {first_char(text, 0), len(text)}


def run(split, texts, repeat):
    """Every paragraph's predicted starts, and the best wall-clock seconds over `repeat` runs."""
    best, predicted = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        predicted = [split(text) for text in texts]
        best = min(best, time.perf_counter() - start)
    return predicted, best


def counts(paragraphs, predicted):
    """(true positives, false positives, false negatives) over a corpus's boundaries."""
    tp = fp = fn = 0
    for (text, gold), starts in zip(paragraphs, predicted):
        gold, guess = boundaries(text, gold), boundaries(text, starts)
        tp, fp, fn = tp + len(gold & guess), fp + len(guess - gold), fn + len(gold - guess)
    return tp, fp, fn


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def evaluate(split, found, repeat):
    """Counts per corpus and overall, and characters per second over all the text."""
    names = list(found)
    texts = [text for name in names for text, _ in found[name]]
    predicted, seconds = run(split, texts, repeat)
    result, at = {"predicted": {}}, 0
    for name in names:
        result["predicted"][name] = predicted[at:at + len(found[name])]
        result[name] = counts(found[name], result["predicted"][name])
        at += len(found[name])
    result["overall"] = tuple(sum(result[n][i] for n in names) for i in range(3))
    result["written"] = tuple(sum(result[n][i] for n in names if n != "nps-chat")
                              for i in range(3))
    result["chars_per_s"] = sum(map(len, texts)) / seconds
    return result


def table(results, found):
    """The Markdown table: P/R/F1 per corpus (percent), F1 over all boundaries and over those of
    the written corpora (all but chat), characters per second."""
    names = list(found)
    head = "| splitter | " + " | ".join(f"{n} P / R / F1" for n in names)
    lines = [head + " | overall F1 | F1 w/o chat | chars/s |", "|---" * (len(names) + 4) + "|"]
    for splitter, result in results.items():
        cells = [" / ".join(f"{100 * x:.1f}" for x in prf(*result[n])) for n in names]
        overall, written = (100 * prf(*result[key])[2] for key in ("overall", "written"))
        lines.append(f"| {splitter} | " + " | ".join(cells)
                     + f" | {overall:.1f} | {written:.1f} | {result['chars_per_s']:,.0f} |")
    sizes = [f"{n}: {len(found[n])} paragraphs, {sum(len(g) - 1 for _, g in found[n])} "
             f"boundaries ({100 * punctuated(found[n]):.0f}% after . ! ? or …), "
             f"{sum(len(t) for t, _ in found[n]):,} chars" for n in names]
    return "\n".join(lines) + "\n\n" + ";\n".join(sizes)


def punctuated(paragraphs):
    """The share of gold boundaries that follow `.`, `!`, `?` or `…` (closing quotes and
    brackets aside): what a splitter that looks for such marks can hope to find."""
    hits = total = 0
    for text, gold in paragraphs:
        for start in boundaries(text, gold):
            total += 1
            hits += text[:start].rstrip().rstrip("\"'”’)]}")[-1:] in (".", "!", "?", "…")
    return hits / total if total else 0.0


ABBREVIATION = re.compile(r"(?:[A-Za-z]{1,4}\.)+")
FP_KINDS = ["abbrev.", "number.", "?! + quote", "ellipsis", "URL/e-mail", "other"]
FN_KINDS = ["no .!?", "abbrev.", "next not A-Z", "ellipsis", "URL/e-mail", "other"]


def error_kind(text, offset, missed):
    """What the text before a wrong boundary (FP) or a missed one (FN) ends in: a rough class."""
    before = text[:offset].rstrip()
    word = before.split()[-1] if before.split() else ""
    bare = word.rstrip("\"'”’)]}").lstrip("\"'“‘([{")
    if re.search(r"://|www\.|\w@\w", word):
        return "URL/e-mail"
    if bare.endswith(("...", "…", "..")):
        return "ellipsis"
    if missed and bare[-1:] not in (".", "!", "?"):
        return "no .!?"
    capital_or_dotted = bare[:1].isupper() or "." in bare[:-1]
    if ABBREVIATION.fullmatch(bare) and bare not in ("I.", "a.") and capital_or_dotted:
        return "abbrev."
    if missed:
        return "next not A-Z" if not text[offset].isupper() else "other"
    if re.fullmatch(r"\d+\.", bare):
        return "number."
    return "?! + quote" if bare[-1:] in "?!" and bare != word.lstrip("\"'“‘([{") else "other"


def error_kinds(results, found):
    """Markdown table: each splitter's false positives and negatives on the written corpora
    (all but chat), counted by what the text before the boundary ends in."""
    head = " | ".join([f"FP {k}" for k in FP_KINDS] + [f"FN {k}" for k in FN_KINDS])
    lines = [f"| splitter | {head} |", "|---" * (len(FP_KINDS) + len(FN_KINDS) + 1) + "|"]
    for splitter, result in results.items():
        tally = {("FP", k): 0 for k in FP_KINDS} | {("FN", k): 0 for k in FN_KINDS}
        for name in (n for n in found if n != "nps-chat"):
            for (text, gold), starts in zip(found[name], result["predicted"][name]):
                gold, guess = boundaries(text, gold), boundaries(text, starts)
                for offset in guess - gold:
                    tally["FP", error_kind(text, offset, False)] += 1
                for offset in gold - guess:
                    tally["FN", error_kind(text, offset, True)] += 1
        lines.append(f"| {splitter} | " + " | ".join(map(str, tally.values())) + " |")
    return lines


def error_samples(result, found, n, rng):
    """Up to `n` false positives and `n` false negatives per corpus, each shown as the text
    around it with `‖` where the boundary was put (FP) or missed (FN)."""
    lines = []
    for name, paragraphs in found.items():
        wrong = {"FP": [], "FN": []}
        for (text, gold), starts in zip(paragraphs, result["predicted"][name]):
            gold, guess = boundaries(text, gold), boundaries(text, starts)
            for kind, offsets in (("FP", guess - gold), ("FN", gold - guess)):
                wrong[kind] += [text[max(0, o - 45):o] + "‖" + text[o:o + 30] for o in offsets]
        for kind, examples in wrong.items():
            for example in rng.sample(examples, min(n, len(examples))):
                lines.append(f"  {name} {kind} {' '.join(example.split())!r}")
    return lines


# ---------------------------------------------------------------- start-up, saved parameters

STARTUP = {
    "import nltk (alone)": "import nltk\nsplit = len",
    "punkt": "import json\n"
             "from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer\n"
             "blob = json.load(open(PARAMS))\np = PunktParameters()\n"
             "p.abbrev_types = set(blob['abbrev_types'])\n"
             "p.collocations = {tuple(c) for c in blob['collocations']}\n"
             "p.sent_starters = set(blob['sent_starters'])\n"
             "p.ortho_context.update(blob['ortho_context'])\n"
             "split = lambda t: list(PunktSentenceTokenizer(p).span_tokenize(t))",
    "pysbd": "import pysbd\n"
             "split = pysbd.Segmenter(language='en', clean=False, char_span=True).segment",
    "syntok": "from syntok.segmenter import analyze\n"
              "split = lambda t: [list(p) for p in analyze(t)]",
    "sentencex": "from sentencex import get_sentence_boundaries\n"
                 "split = lambda t: get_sentence_boundaries('en', t)",
    "blingfire": "import blingfire\nsplit = blingfire.text_to_sentences_and_offsets",
}


def startup_seconds(code, params_path, repeat=5):
    """(import + build, import + build + first split) seconds in a fresh interpreter, best of
    `repeat`; None where the snippet fails."""
    program = ("import time\nt0 = time.perf_counter()\n" + code + "\nt1 = time.perf_counter()\n"
               f"split({HAND_PARAGRAPHS[0]!r})\nprint(t1 - t0, time.perf_counter() - t0)")
    best = None
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", f"PARAMS = {str(params_path)!r}\n" + program],
                              capture_output=True, text=True)
        if done.returncode:
            return None
        times = tuple(map(float, done.stdout.split()))
        best = times if best is None else tuple(map(min, best, times))
    return best


def startup_lines(params_path):
    lines = ["| splitter | import + build (s) | + first split (s) |", "|---|---|---|"]
    for name, code in STARTUP.items():
        times = startup_seconds(code, params_path)
        cells = " | ".join(f"{t:.3f}" for t in times) if times else "failed | failed"
        lines.append(f"| {name} | {cells} |")
    return lines


def saved_params_lines(name, params, texts, path):
    """Sizes of Punkt's parameters saved as JSON and as NLTK's tab files (built in memory:
    save_punkt_params writes only inside NLTK's data folders), and whether a tokenizer built from
    the JSON splits every paragraph as the trained one does."""
    import gzip

    from nltk.tabdata import TabEncoder

    blob = json.dumps(params_to_json(params), separators=(",", ":"))
    path.write_text(blob)
    enc = TabEncoder()
    tabs = (enc.tups2tab(params.collocations) + enc.set2txt(params.sent_starters)
            + enc.set2txt(params.abbrev_types) + enc.ivdict2tab(params.ortho_context))
    reloaded = punkt_splitter(params_from_json(json.loads(path.read_text())))
    trained = punkt_splitter(params)
    differ = sum(trained(t) != reloaded(t) for t in texts)
    return [f"punkt ({name}): {len(params.abbrev_types)} abbreviations, "
            f"{len(params.collocations)} collocations, {len(params.sent_starters)} sentence "
            f"starters, {len(params.ortho_context)} orthographic contexts; JSON "
            f"{len(blob):,} bytes ({len(gzip.compress(blob.encode())):,} gzipped), tab files "
            f"{len(tabs.encode()):,} bytes; built from the JSON: {differ} of {len(texts)} "
            f"paragraphs split differently"]


def hand_lines(split_functions):
    lines = []
    for i, text in enumerate(HAND_PARAGRAPHS, 1):
        lines.append(f"{i}. {text!r}")
        for name, split in split_functions.items():
            starts = sorted({first_char(text, s) for s in split(text)} - {len(text)}
                            | {first_char(text, 0)})
            pieces = [text[a:b].strip() for a, b in zip(starts, starts[1:] + [len(text)])]
            lines.append(f"   - {name}: " + " ‖ ".join(repr(p) for p in pieces))
    return lines


# ---------------------------------------------------------------- main

def parse_args(argv):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0,
                        help="read at most this many files per corpus (10x as many paragraphs "
                             "of chat); 0: all (default)")
    parser.add_argument("--punkt", nargs="*", default=list(PUNKT_SETS), choices=list(PUNKT_SETS),
                        help="Punkt training sets (default: all of them)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each splitter")
    parser.add_argument("--cache", help="folder to keep trained Punkt parameters in, as JSON")
    parser.add_argument("--errors", type=int, default=0,
                        help="print this many sampled false positives and negatives of each "
                             "splitter per corpus")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up timings")
    return parser.parse_args(argv)


@cli
def main(argv=None):
    args = parse_args(argv)
    require_corpora(EVAL_PACKAGES + sorted({p for name in args.punkt for p in PUNKT_SETS[name]}))
    print(f"CPU: {cpu_name()}; Python {platform.python_version()}; one thread\n")
    found = corpora(args.limit)
    punkt = punkt_params(args.punkt, args.cache)
    functions = splitters(punkt)
    results = {name: evaluate(split, found, args.repeat) for name, split in functions.items()}
    print(table(results, found))
    print("\nPunkt training (PunktTrainer on NLTK's raw corpora, one thread):")
    for name, (_, seconds) in punkt.items():
        print(f"  punkt ({name}): {seconds:.1f} s on {', '.join(PUNKT_SETS[name])}")
    texts = [text for paragraphs in found.values() for text, _ in paragraphs]
    best = max(punkt, key=lambda n: prf(*results[f"punkt ({n})"]["overall"])[2], default=None)
    params_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"punkt-{best}-{os.getpid()}.json"
    if best:
        print("\nSaved parameters of the best Punkt:")
        print("  " + saved_params_lines(best, punkt[best][0], texts, params_path)[0])
    if not args.no_startup:
        print(f"\nStart-up in a fresh interpreter (best of 5; punkt = punkt ({best}) from JSON):")
        print("\n".join(startup_lines(params_path)))
    params_path.unlink(missing_ok=True)
    print("\nErrors on the written corpora (all but chat), by what the text before the boundary "
          "ends in:")
    print("\n".join(error_kinds(results, found)))
    print("\nHand-written paragraphs (sentences separated by ‖):")
    print("\n".join(hand_lines(functions)))
    if args.errors:
        rng = random.Random(0)
        for name, result in results.items():
            print(f"\nErrors of {name} (‖: boundary put (FP) or missed (FN)):")
            print("\n".join(error_samples(result, found, args.errors, rng)))


if __name__ == "__main__":
    main()
