"""Tag corpora too big for one machine, on Ray: `python -m tagger.bulk INPUT... --out DIR`.

    python -m tagger.bulk corpus/ --out tagged/ --format conllu          # Ray on this machine
    python -m tagger.bulk 's3://bucket/texts/*.txt' --out tagged/ --address auto     # a cluster
    python -m tagger.bulk posts.jsonl --text-field body --out tagged/ --format parquet

INPUT is files, folders or globs, local or any URL pyarrow reads (file://, s3://, gs://): plain
text, read exactly as `python -m tagger.tag --file` reads it; JSON Lines (`.jsonl`, each record's
--text-field a document) or Parquet (`.parquet`, each row's --text-column). For each input file,
DIR/<its path under its folder or glob root> plus the format's extension (.txt, .conll, .jsonl,
.conllu, .parquet) holds its output: for plain text, byte for byte what `python -m tagger.tag
--file F --format X` writes.

Files are planned in blocks (tagger.blocks: about 16 MB each, ending at an empty line), which Ray
Data hands to --workers actors, each of which loads the model once (a callable class, as in Ray's
batch-inference examples) and tags a block with tagger.tag's own code. The driver writes each
block's output as it comes, under DIR/.tagger-bulk/, and joins a file's blocks in order into its
output, renamed into place, once all are in: a rerun after any crash or Ctrl-C tags only what is
missing. Ray retries what a lost worker or node was doing. DIR/manifest.json lists the files,
sentences, tokens, seconds and models at the end. Without --address Ray starts on this machine.
"""

import contextlib
import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tagger import formats, sentences, tagsets
from tagger.errors import ArgumentParser, Interrupted, TaggerError, cli

EXTENSIONS = {"text": ".txt", "conll": ".conll", "json": ".jsonl", "conllu": ".conllu",
              "parquet": ".parquet"}
PARTS = ".tagger-bulk"  # under --out: each block's output, until its file is joined
RECORD_KINDS = {".jsonl": "jsonl", ".parquet": "parquet"}
GLOB = set("*?[")
PROGRESS_SECONDS = 10.0
# Blocks go to the actors in tasks of about TASK_BYTES (a second or two of tagging), or TASK_SHARE
# of a worker's share of the work if that is less, the largest first: a task costs Ray some 17 ms,
# and the last ones must be small for no worker to wait long at the end.
TASK_BYTES = 256 << 10
TASK_SHARE = 0.1


@dataclass
class Source:
    """An input file: where pyarrow opens it, its output's path under --out (without the
    format's extension), its size and kind ("text", "jsonl" or "parquet")."""
    url: str
    rel: str
    size: int
    kind: str


@dataclass
class Plan:
    """What a run does: the sources, their blocks (rows for Ray Data), the bad inputs skipped."""
    sources: list[Source]
    blocks: list[dict] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    done: list[int] = field(default_factory=list)  # sources whose output an earlier run wrote
    counts: dict = field(default_factory=dict)  # source -> its number of blocks, if not done


# --- the inputs ----------------------------------------------------------------------------------


def find_sources(inputs, out, skip_bad=False) -> tuple[list[Source], list[str]]:
    """The files INPUT... name, each with its output's path under --out; an input that names no
    readable file is the user's error, or with `skip_bad` one of the bad inputs returned."""
    sources, bad = [], []
    for given in inputs:
        try:
            found = sorted(_expand(given, out), key=lambda source: source.rel)
            problem = None if found else "matches no file" if GLOB & set(given) else "not found"
        except OSError as e:
            found, problem = [], f"cannot be read ({e})"
        if problem is None:
            sources += found
        elif skip_bad:
            bad.append(f"{given}: {problem}")
        else:
            raise TaggerError(f"input '{given}' {problem}; check the path, or pass --skip-bad")
    outputs = [s.rel for s in sources]
    twice = {rel for rel in outputs if outputs.count(rel) > 1}
    if twice:
        raise TaggerError(f"two inputs would both be written to '{sorted(twice)[0]}' under --out; "
                          "give the folder that holds them instead")
    return sources, bad


def _expand(given, out):
    """(Source for each file) of one INPUT: a file, a folder (its files, hidden ones and --out
    left out) or a glob (`*`, `?`, `[...]`; `**` for any folders)."""
    from pyarrow import fs as pafs

    scheme = given.split("://")[0] + "://" if "://" in given else ""
    filesystem, path = pafs.FileSystem.from_uri(given if scheme else os.path.abspath(given))
    if GLOB & set(path):
        root = path[:min(path.index(c) for c in GLOB & set(path))].rpartition("/")[0]
        wanted = path.split("/")
    else:
        root, wanted = path, None
    info = filesystem.get_file_info(root or "/")
    if info.type == pafs.FileType.File and wanted is None:
        if not scheme and not os.access(path, os.R_OK):
            raise PermissionError(f"permission denied: '{path}'")
        yield _source(scheme + path, Path(path).name, info.size)
        return
    if info.type != pafs.FileType.Directory:
        return
    skip = str(Path(out).resolve()) if not scheme else None
    for item in filesystem.get_file_info(pafs.FileSelector(root, recursive=True)):
        rel = item.path[len(root):].lstrip("/")
        if (item.type != pafs.FileType.File or any(p[0] in "._" for p in rel.split("/"))
                or (skip and (item.path + "/").startswith(skip + "/"))
                or (wanted and not _glob_match(item.path.split("/"), wanted))):
            continue
        if not scheme and not os.access(item.path, os.R_OK):
            raise PermissionError(f"permission denied: '{item.path}'")
        yield _source(scheme + item.path, rel, item.size)


def _glob_match(parts, pattern) -> bool:
    """Whether a path's parts match a glob's, `*` within a folder name, `**` across folders."""
    from fnmatch import fnmatchcase

    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_glob_match(parts[k:], pattern[1:]) for k in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], pattern[0]) and _glob_match(parts[1:], pattern[1:])


def _source(url, rel, size) -> Source:
    return Source(url, rel, size, RECORD_KINDS.get(Path(rel).suffix.lower(), "text"))


def open_input(url):
    """A binary, seekable stream of an input file, local or any URL pyarrow reads."""
    import io

    from pyarrow import fs as pafs

    if "://" not in url:
        return open(url, "rb")
    filesystem, path = pafs.FileSystem.from_uri(url)
    return io.BufferedReader(filesystem.open_input_file(path))


# --- the plan: each file's blocks ----------------------------------------------------------------


def block_rows(row, split, block_bytes) -> list[dict]:
    """The blocks of one source (a row: Source's fields and its index) as rows for Ray Data: the
    bytes each spans, and its first character (text) or first record (JSON Lines, Parquet)."""
    from tagger.blocks import block_starts

    url, kind, size = row["url"], row["kind"], int(row["size"])
    with open_input(url) as raw:
        if kind == "parquet":
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(raw).metadata
            counts = [meta.row_group(k).num_rows for k in range(meta.num_row_groups)]
            starts, ends = list(range(len(counts))), list(range(1, len(counts) + 1))
        else:
            starts = block_starts(raw, size, "lines" if kind == "jsonl" else split, block_bytes)
            ends = starts[1:] + [size]
            counts = [_count(raw, start, end, kind) for start, end in zip(starts, ends)]
    firsts = [sum(counts[:k]) for k in range(len(counts))]
    return [dict(source=int(row["source"]), block=k, blocks=len(starts), url=url, kind=kind,
                 start=start, end=end, first=first)
            for k, (start, end, first) in enumerate(zip(starts, ends, firsts))] or [
        dict(source=int(row["source"]), block=0, blocks=1, url=url, kind=kind, start=0, end=0,
             first=0)]


def _count(raw, start, end, kind) -> int:
    """The characters (text) or records (JSON Lines: lines) of bytes [start, end) of `raw`."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    raw.seek(start)
    count, left = 0, end - start
    while left > 0:
        chunk = raw.read(min(left, 1 << 20))
        if not chunk:
            break
        left -= len(chunk)
        count += chunk.count(b"\n") if kind == "jsonl" else len(decoder.decode(chunk))
    return count if kind == "jsonl" else count + len(decoder.decode(b"", final=True))


# --- the work: one actor a worker, one block a call ----------------------------------------------


class BlockTagger:
    """Ray Data's callable class (one a worker actor): loads the model once, then tags a block a
    call with tagger.tag's code, and returns its output with its sentences, tokens and seconds."""

    def __init__(self, settings):
        """`settings`: models, options, device, threads, block_bytes, lines, fields."""
        import torch

        from tagger.tag import PosTagger

        torch.set_num_threads(settings["threads"])
        self.tagger = PosTagger.load(settings["models"], settings["device"])
        self.options, self.lines = settings["options"], settings["lines"]
        self.block_bytes, self.fields = settings["block_bytes"], settings["fields"]

    def __call__(self, batch: dict) -> dict:
        """A batch of tasks, each a few blocks (as JSON); a result a block."""
        done = [self.tag(row) for task in batch["blocks"] for row in json.loads(task)]
        return {key: [d[key] for d in done] for key in done[0]}

    def tag(self, row) -> dict:
        start = time.perf_counter()
        documents = self._documents(row)
        if self.options.format == "parquet":
            output, sentences_, tokens = self._rows(documents)
        else:
            output, sentences_, tokens = self._text(documents)
        return dict(source=int(row["source"]), block=int(row["block"]), output=output,
                    sentences=sentences_, tokens=tokens, seconds=time.perf_counter() - start)

    def _documents(self, row):
        """(record or None, its windows) for each document of the block."""
        from tagger.blocks import BlockReader

        kind, first, split = row["kind"], int(row["first"]), self.options.split
        with open_input(str(row["url"])) as raw:
            if kind == "text":
                raw.seek(int(row["start"]))
                reader = BlockReader(raw, split, int(row["start"]), first, self.block_bytes)
                yield None, sentences.windows(reader, split, self.lines, offset=first)
                return
            for k, text in enumerate(_records(raw, row, self.fields)):
                yield first + k, self._record_windows(text)

    def _record_windows(self, text):
        import io

        from tagger.tag import read_windows

        data = sentences.without_surrogates(text).encode("utf-8")
        return read_windows(io.BytesIO(data), self.options, self.lines)

    def _text(self, documents):
        from tagger.tag import tag_windows

        outputs, count, tokens = [], 0, 0
        for record, windows in documents:
            output, n, t = tag_windows(self.tagger, windows, self.options)
            output = formats.renumber(output, self.options.format, count)
            outputs.append(output if record is None else _with_record(output, self.options,
                                                                      record))
            count, tokens = count + n, tokens + t
        return "".join(outputs).encode("utf-8"), count, tokens

    def _rows(self, documents):
        from tagger.tag import tag_sentences

        columns = {"record": [], "sentence": [], "tokens": [], "tags": [], "spans": []}
        count = tokens = 0
        for record, windows in documents:
            for window in windows:
                for sentence, tags in zip(*tag_sentences(self.tagger, window, self.options)):
                    count += 1
                    if sentence.tokens:  # an empty line's sentence is counted, not written
                        for name, value in zip(columns, (record, count, sentence.tokens, tags,
                                                         [list(s) for s in sentence.spans])):
                            columns[name].append(value)
                        tokens += len(sentence.tokens)
        return _arrow_bytes(columns), count, tokens


def _records(raw, row, fields):
    """The texts of a block's records: a JSON Lines block's lines, a Parquet row group's rows."""
    text_field, text_column = fields
    if row["kind"] == "parquet":
        import pyarrow.parquet as pq

        table = pq.ParquetFile(raw).read_row_group(int(row["start"]), columns=[text_column])
        yield from (value or "" for value in table.column(0).to_pylist())
        return
    raw.seek(int(row["start"]))
    data = raw.read(int(row["end"]) - int(row["start"]))
    for k, line in enumerate(data.split(b"\n")[:data.count(b"\n") + (not data.endswith(b"\n"))]):
        number = int(row["first"]) + k + 1
        try:
            record = json.loads(line) if line.strip() else {}
        except ValueError as e:
            raise TaggerError(f"{row['url']}:{number}: not a JSON record ({e})") from None
        text = record.get(text_field, "") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise TaggerError(f"{row['url']}:{number}: field '{text_field}' is not a string; "
                              "choose the field with --text-field")
        yield text


def _with_record(output, options, record):
    """A record's output marked with its number: CoNLL-U's `# newdoc id`, a "record" key in JSON."""
    if options.format == "conllu":
        return f"# newdoc id = {record}\n" + output if output else output
    if options.format == "json":
        return "".join(f'{{"record": {record}, ' + line[1:] + "\n"
                       for line in output.splitlines())
    return output


def _arrow_bytes(columns) -> bytes:
    import pyarrow as pa

    table = pa.table({"record": pa.array(columns["record"], pa.int64()),
                      "sentence": pa.array(columns["sentence"], pa.int64()),
                      "tokens": pa.array(columns["tokens"], pa.list_(pa.string())),
                      "tags": pa.array(columns["tags"], pa.list_(pa.string())),
                      "spans": pa.array(columns["spans"], pa.list_(pa.list_(pa.int64())))})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


# --- the outputs: parts as blocks come, a file's parts joined once all are in --------------------


class Outputs:
    """What is written under --out: a file's output, once all its blocks are in, under a temporary
    name, synced and renamed into place, so that what a run finds there is whole; until then, each
    block's output (a part, its counts beside it) under .tagger-bulk/; and there too, a line of
    counts for each file done, for the manifest."""

    def __init__(self, out, fmt):
        self.out, self.format = Path(out), fmt
        self.extension = EXTENSIONS[fmt]
        self.log = self.out / PARTS / "done.jsonl"
        self.done = {}
        if self.log.is_file():  # a line cut short by a crash is left out
            for line in self.log.read_text().splitlines():
                with contextlib.suppress(ValueError):
                    self.done[json.loads(line)["output"]] = json.loads(line)

    def final(self, source) -> Path:
        return self.out / (source.rel + self.extension)

    def _part(self, source, block, suffix) -> Path:
        return self.out / PARTS / f"{source.rel}{self.extension}.{block:06d}{suffix}"

    def block_done(self, source, block) -> bool:
        return self._part(source, block, ".json").is_file()

    def write_part(self, source, result):
        """A block's output, then its counts (which say the part is whole). Renamed into place
        but not synced: a part lives only until its file is joined."""
        part = self._part(source, result["block"], ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        _replace(part, result["output"])
        counts = {k: result[k] for k in ("sentences", "tokens", "seconds")}
        _replace(self._part(source, result["block"], ".json"), json.dumps(counts).encode())

    def join(self, source, blocks, result=None) -> dict:
        """The file's output from its `blocks` parts in order (a file of one block: from its
        `result`, no part written); its counts, kept for the manifest."""
        from tagger.storage import write_atomic

        if result is None:
            parts = [self._part(source, k, ".part") for k in range(blocks)]
            counts = [json.loads(self._part(source, k, ".json").read_text())
                      for k in range(blocks)]
            pieces = [part.read_bytes for part in parts]
        else:
            parts, counts = [], [{k: result[k] for k in ("sentences", "tokens", "seconds")}]
            pieces = [lambda: result["output"]]
        before = [sum(c["sentences"] for c in counts[:k]) for k in range(blocks)]
        final = self.final(source)
        final.parent.mkdir(parents=True, exist_ok=True)
        join = _join_tables if self.format == "parquet" else self._join_text
        write_atomic(final, lambda name: join(name, pieces, before, source.rel))
        stats = {"input": source.url, "output": str(final.relative_to(self.out)),
                 "blocks": blocks, **{k: sum(c[k] for c in counts)
                                      for k in ("sentences", "tokens", "seconds")}}
        self._record(stats)
        for part in parts:
            part.unlink()
            part.with_suffix(".json").unlink()
        return stats

    def _join_text(self, name, pieces, before, rel):
        with open(name, "wb") as out:
            for piece, count in zip(pieces, before):
                data = piece()
                if self.format == "conllu" and count:
                    data = formats.renumber(data.decode("utf-8"), "conllu", count).encode("utf-8")
                out.write(data)

    def _record(self, stats):
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as log:
            log.write(json.dumps(stats) + "\n")
        self.done[stats["output"]] = stats

    def stats(self, source) -> dict | None:
        """A finished file's counts (joined by this run or an earlier one), or None."""
        return self.done.get(source.rel + self.extension)


def _replace(path, data: bytes):
    """Write `data` to `path` through a temporary name beside it, renamed into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _join_tables(name, pieces, before, rel):
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for piece, count in zip(pieces, before):
        with pa.ipc.open_stream(piece()) as reader:
            table = reader.read_all()
        table = table.set_column(1, "sentence", pa.compute.add(table.column(1), count))
        table = table.add_column(0, "file", pa.array([rel] * len(table), pa.string()))
        writer = writer or pq.ParquetWriter(name, table.schema)
        writer.write_table(table)
    writer.close()


# --- the driver ----------------------------------------------------------------------------------


def plan(sources, outputs, options, block_bytes) -> Plan:
    """The blocks still to tag: a file an earlier run finished is left out, and so is a block
    whose part is written. A file over block_bytes (or Parquet, in row groups) is planned by a
    Ray task that reads it; a smaller one is one block."""
    import ray

    result = Plan(sources)
    rows, large = [], []
    for k, source in enumerate(sources):
        if outputs.final(source).is_file():
            result.done.append(k)
        elif source.size > block_bytes or source.kind == "parquet":
            large.append({**asdict(source), "source": k})
        else:
            rows.append(dict(source=k, block=0, blocks=1, url=source.url, kind=source.kind,
                             start=0, end=source.size, first=0))
    if large:
        rows += ray.data.from_items(large).flat_map(
            block_rows, fn_kwargs=dict(split=options.split, block_bytes=block_bytes)).take_all()
    result.blocks = [row for row in rows
                     if not outputs.block_done(sources[row["source"]], row["block"])]
    result.counts = {row["source"]: row["blocks"] for row in rows}
    return result


def run(plan_, outputs, args, options, workers, progress):
    """Tag the plan's blocks in `workers` actors, writing each block's part as it comes and each
    file's output once its parts are in."""
    import ray

    left = {k: n - sum(outputs.block_done(plan_.sources[k], b) for b in range(n))
            for k, n in plan_.counts.items()}  # source -> its blocks still to come
    for k in [k for k, n in left.items() if n == 0]:  # every part written before a stop
        progress.file_done(outputs.join(plan_.sources[k], plan_.counts[k]))
    if not plan_.blocks:
        return
    settings = dict(models=args.model, options=options, device=args.device, threads=args.threads,
                    block_bytes=args.block_bytes, lines=args.window,
                    fields=(args.text_field, args.text_column))
    tagged = ray.data.from_items(tasks(plan_, workers)).map_batches(
        BlockTagger, batch_size=1, compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=args.threads, num_gpus=1 if args.device == "cuda" else 0,
        fn_constructor_kwargs=dict(settings=settings))
    for result in tagged.iter_rows():
        k = result["source"]
        progress.block_done(result)
        if plan_.counts[k] == 1:  # the whole file: its output at once, no part
            progress.file_done(outputs.join(plan_.sources[k], 1, result))
            continue
        outputs.write_part(plan_.sources[k], result)
        left[k] -= 1
        if left[k] == 0:
            progress.file_done(outputs.join(plan_.sources[k], plan_.counts[k]))


def tasks(plan_, workers) -> list[dict]:
    """The plan's blocks in tasks of TASK_BYTES, or of TASK_SHARE of a worker's share of all the
    work if less (a larger block is a task of its own): a small file is too little work to pay
    for a task of its own (some 17 ms here), and the tasks must be many enough to keep every
    worker busy to the end."""
    sizes = [_bytes(plan_, row) for row in plan_.blocks]
    target = max(1, min(TASK_BYTES, int(sum(sizes) * TASK_SHARE / workers)))
    grouped, task, held = [], [], 0
    for row, size in zip(plan_.blocks, sizes):
        task.append(row)
        held += size
        if held >= target:
            grouped.append(task)
            task, held = [], 0
    grouped = [task for task in grouped + [task] if task]
    grouped.sort(key=lambda task: -sum(_bytes(plan_, row) for row in task))
    return [{"blocks": json.dumps(task)} for task in grouped]


def _bytes(plan_, row):
    if row["kind"] == "parquet":  # a row group: its share of the file
        return plan_.sources[row["source"]].size // max(1, row["blocks"])
    return row["end"] - row["start"]


class Progress:
    """A line on stderr every PROGRESS_SECONDS while blocks come in, and the counts of the run."""

    def __init__(self, files, every=None):
        self.files, self.every = files, PROGRESS_SECONDS if every is None else every
        self.start = self.last = time.perf_counter()
        self.done = self.sentences = self.tokens = self.blocks = 0

    def block_done(self, result):
        self.blocks += 1
        self.sentences += int(result["sentences"])
        self.tokens += int(result["tokens"])
        if time.perf_counter() - self.last >= self.every:
            self.last = time.perf_counter()
            print(f"bulk: {self.done:,} of {self.files:,} files, {self.blocks:,} blocks, "
                  f"{self.tokens:,} tokens, {self.rate():,.0f} tokens/s", file=sys.stderr,
                  flush=True)

    def file_done(self, stats):
        self.done += 1

    def seconds(self):
        return time.perf_counter() - self.start

    def rate(self):
        return self.tokens / max(self.seconds(), 1e-9)


def write_manifest(out, outputs, plan_, args, progress):
    """DIR/manifest.json: every file's input, output and counts, the bad inputs, the models, and
    this run's figures."""
    from tagger.storage import write_atomic

    files = [outputs.stats(s) for s in plan_.sources]
    done = [f for f in files if f is not None]
    manifest = {
        "models": [str(Path(m).resolve()) for m in args.model], "format": args.format,
        "split": args.split, "tokenized": args.tokenized, "tagset": args.tagset,
        "files": done, "missing": [s.url for s, f in zip(plan_.sources, files) if f is None],
        "bad": plan_.bad,
        "totals": {k: sum(f[k] for f in done) for k in ("sentences", "tokens", "seconds")},
        "run": {"seconds": round(progress.seconds(), 3), "tokens": progress.tokens,
                "tokens_per_second": round(progress.rate(), 1), "workers": args.workers,
                "threads": args.threads}}
    path = Path(out) / "manifest.json"
    write_atomic(path, lambda name: Path(name).write_text(json.dumps(manifest, indent=1) + "\n"))
    return manifest


def _parser():
    from tagger.blocks import BLOCK_BYTES

    parser = ArgumentParser(prog="python -m tagger.bulk", description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="files, folders or globs, local or URLs (s3://, gs://, file://)")
    parser.add_argument("--out", required=True, help="folder of the outputs and the manifest")
    parser.add_argument("--model", action="append",
                        help="model folder (default: models/latest); again for an ensemble")
    parser.add_argument("--format", choices=(*formats.FORMATS, "parquet"), default="text",
                        help="as tagger.tag's, or parquet: a row a sentence (file, record, "
                             "sentence, tokens, tags, spans)")
    parser.add_argument("--split", choices=sentences.SPLITS, default=None,
                        help="as tagger.tag's: sentences (the default) or lines")
    parser.add_argument("--tokenized", action="store_true", help="as tagger.tag's")
    parser.add_argument("--tagset", choices=tagsets.TAGSETS, default="model", help="as tagger.tag's")
    parser.add_argument("--text-field", default="text",
                        help="JSON Lines inputs (.jsonl): the field holding each record's text")
    parser.add_argument("--text-column", default="text",
                        help="Parquet inputs (.parquet): the column holding each row's text")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to join: auto, or ray://host:10001 (default: start Ray "
                             "on this machine)")
    parser.add_argument("--workers", type=int, default=0,
                        help="tagging actors (default: the cluster's CPUs / --threads)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per actor")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="cuda: one GPU per actor (auto: cuda when the cluster has GPUs)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="go on without inputs that are missing or unreadable (listed in "
                             "the manifest) instead of stopping before any work")
    parser.add_argument("--window", type=int, default=sentences.WINDOW_LINES,
                        help="as tagger.tag's")
    parser.add_argument("--block-bytes", type=int, default=BLOCK_BYTES,
                        help=f"size of the blocks files are cut in (default: {BLOCK_BYTES:,}); "
                             "tagger.tag reads the default's, which byte-identical output needs")
    return parser


def _start_ray(address):
    """Join the cluster at `address`, or start Ray here; False if this process had Ray running."""
    import logging

    import ray

    if ray.is_initialized():
        return False
    # Ray's notes (its progress among them) go to its log files in the session folder, not
    # among this command's lines.
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise TaggerError(f"cannot join the Ray cluster at '{address}' ({str(e).splitlines()[0]});"
                          " check --address, or leave it out to start Ray here") from None
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return True


def _resources(args):
    """--workers and --device as the cluster allows: the number of actors, and the device."""
    import ray

    resources = ray.cluster_resources()
    gpus = resources.get("GPU", 0)
    if args.device == "auto":
        args.device = "cuda" if gpus >= 1 else "cpu"
    if args.device == "cuda" and gpus < 1:
        raise TaggerError("--device cuda asks each actor for a GPU, and the Ray cluster has none; "
                          "use --device cpu")
    per_actor = gpus if args.device == "cuda" else resources.get("CPU", 1) / args.threads
    return args.workers or max(1, int(per_actor))


def _stop_on_sigterm(signum, frame):
    raise Interrupted(signum=signum)


@cli
def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    # Absolute: the actors may run in another folder, or on another machine of a shared one.
    args.model = [str(Path(m).resolve()) for m in args.model or ["models/latest"]]
    parser.require_at_least(args, workers=0, threads=1, window=1, block_bytes=1)
    from tagger.tag import PosTagger, options_from

    options = options_from(parser, args)
    try:
        import ray  # noqa: F401  (the extra's, checked before any work)
    except ModuleNotFoundError:
        raise TaggerError("python -m tagger.bulk needs the cluster extra (ray[data] is not "
                          "installed): pip install 'tagger[cluster]'") from None
    sources, bad = find_sources(args.inputs, args.out, args.skip_bad)
    outputs = Outputs(args.out, options.format)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with ThreadPoolExecutor(1) as check:
        # A bad model folder is one line before any work; checked while Ray starts.
        loaded = check.submit(PosTagger.load, args.model, "cpu")
        started = _start_ray(args.address)
    # Again after Ray's start: Ray's own handler, which prints a stack and ends the process, goes.
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    progress = Progress(len(sources))
    try:
        loaded.result()
        args.workers = _resources(args)
        work = plan(sources, outputs, options, args.block_bytes)
        work.bad = bad
        run(work, outputs, args, options, args.workers, progress)
    except KeyboardInterrupt as e:
        done = sum(outputs.final(s).is_file() for s in sources)
        raise Interrupted(f"interrupted: {done:,} of {len(sources):,} files written to "
                          f"{args.out}; run the same command again to tag the rest",
                          getattr(e, "exit_code", 130) - 128) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        if started:
            import ray

            ray.shutdown()
    _finish(outputs, work, args, progress)


def _finish(outputs, work, args, progress):
    manifest = write_manifest(args.out, outputs, work, args, progress)
    totals = manifest["totals"]
    before = len(work.done)
    print(f"tagged {len(manifest['files']):,} files" + (f" ({before:,} done before)" if before
                                                       else "")
          + f", {totals['sentences']:,} sentences, {totals['tokens']:,} tokens; this run "
          f"{progress.tokens:,} tokens in {progress.seconds():.1f} s, {progress.rate():,.0f} "
          f"tokens/s; manifest: {Path(args.out) / 'manifest.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
