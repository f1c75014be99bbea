"""Train a tagger: `python -m tagger.train --bidirectional [--corpus treebank] [--encoder hand|torch|rnn]`.

Reads the corpus, builds the vocabularies from the training split, trains with Adam on NLLLoss,
evaluates on dev after every epoch, keeps the best model (saved atomically to `--out`), stops early
when dev accuracy stops improving, and ends with test accuracy. Same seed on one CPU thread, same model.

Every epoch ends with a checkpoint (tagger.checkpoint), so a run that was stopped, by Ctrl-C or by
anything else, continues with `--resume` to the very weights it would have reached. Ctrl-C stops
between two batches, with one line that says where the best model is (exit code 130); so does
SIGTERM, which `timeout`, batch schedulers and Kubernetes send before they kill (exit code 143).

`torchrun --nproc_per_node=N -m tagger.train ...` trains on N processes with DistributedDataParallel
(tagger.distributed): each trains on its share of every batch, and rank 0 alone logs, evaluates and
saves. Without torchrun, one process trains exactly as it always has.
"""

import dataclasses
import math
import re
import signal
import sys
import threading
import time
from contextlib import contextmanager

from tagger.config import Config, resolve_device
from tagger.errors import ArgumentParser, Interrupted, cli

# torch, and the modules of this package that need it, are imported in the functions that use
# them: `--help` and a mistyped flag then answer at once instead of after the seconds torch
# takes to load.

# The treebank's bracket tokens (-LRB-, -RCB-...), whose case is part of the name.
BRACKET = re.compile(r"-[LR][RCS]B-")


def word_dropout(words, counts, alpha, generator):
    """Replace word w by <unk> with probability alpha / (alpha + count(w)), so that rare words
    teach the model what to do with words it has never seen (Kiperwasser & Goldberg, 2016)."""
    import torch

    p = alpha / (alpha + counts[words])  # (B, T)
    drop = torch.rand(words.shape, generator=generator, device=words.device) < p
    return torch.where(drop & (words > 1), torch.full_like(words, 1), words)  # 1 is <unk>


def recase(sentences, share, generator):
    """Each sentence, with probability `share`, in lower case or in capitals (half and half), so
    that text typed without capitals (chat, tweets) or in them (headings, spam) reads as text: the
    treebank's sentences are all properly cased, and the model would otherwise learn that a small
    letter means a common word and a capital a proper noun. The words' ids do not change (they are
    looked up lower-cased); the character encoder sees the new case."""
    import torch

    draws = torch.rand(len(sentences), generator=generator, device=generator.device).tolist()
    recased = []
    for words, draw in zip(sentences, draws):
        if draw < share / 2:
            words = [w if BRACKET.fullmatch(w) else w.lower() for w in words]
        elif draw < share:
            words = [w.upper() for w in words]
        recased.append(words)
    return recased


def tag_loss(log_probs, tags, tag_set_mask, reduction="mean"):
    """NLLLoss, the mean over the tokens of -log p(gold tag) (with reduction="sum", the sum). A
    token tagged with a set of tags (an id past the last tag: a row of `tag_set_mask`) counts
    -log p(set) = -log of the sum of its tags' probabilities, which lets the model put the mass on
    whichever of them the context favours. log_probs (N, num_tags), tags (N,), tag_set_mask
    (num_tags + num_sets, num_tags)."""
    import torch
    import torch.nn.functional as F

    from tagger.vocab import IGNORE_INDEX

    num_tags = log_probs.shape[-1]
    in_set = tags >= num_tags
    if not in_set.any():
        return F.nll_loss(log_probs, tags, ignore_index=IGNORE_INDEX, reduction=reduction)
    allowed = tag_set_mask[tags[in_set]]  # (S, num_tags)
    set_log_probs = log_probs[in_set].masked_fill(~allowed, -math.inf).logsumexp(-1)  # (S,)
    single = torch.where(in_set, IGNORE_INDEX, tags)
    total = (F.nll_loss(log_probs, single, ignore_index=IGNORE_INDEX, reduction="sum")
             - set_log_probs.sum())
    if reduction == "sum":
        return total
    return total / ((single != IGNORE_INDEX).sum() + in_set.sum())


def learning_rate(config: Config, epoch: int) -> float:
    """The learning rate of an epoch (1-based). A function of the epoch number alone, so that
    --resume needs no scheduler state. Cosine annealing (Loshchilov & Hutter, 2017) ends training
    with small steps, which averages out the last epochs' noise in dev accuracy."""
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / config.epochs))
    return config.lr


def _ema_of_trained(model, decay):
    """AveragedModel's EMA update, applied to the weights that train: a frozen weight's average
    is the weight itself, and the pretrained part's 6.5M of them cost 3% of an epoch to average."""
    from torch.optim.swa_utils import get_ema_multi_avg_fn

    ema = get_ema_multi_avg_fn(decay)
    # AveragedModel passes the model's weights detached (and grouped by dtype): the same memory.
    trained = {p.data_ptr() for p in model.parameters() if p.requires_grad}

    def update(averaged, current, num_averaged):
        pairs = [(a, c) for a, c in zip(averaged, current) if c.data_ptr() in trained]
        ema([a for a, _ in pairs], [c for _, c in pairs], num_averaged)

    return update


def log(message):
    print(message, file=sys.stderr, flush=True)


def _silent(message):
    pass


@dataclasses.dataclass
class _Run:
    """What one training run holds between its phases; made by `_set_up`."""
    config: Config
    log: object
    device: object
    rank: int
    processes: int
    main: bool  # rank 0, which logs, evaluates and saves
    splits: object  # data.Splits
    vocab: object  # vocab.Vocab
    model: object  # the Tagger the optimizer steps
    ddp_model: object  # the model itself on one process
    saved_model: object  # evaluated on dev and saved: the weight average when there is one
    averaged: object  # AveragedModel or None
    optimizer: object
    shuffle: object  # torch.Generator of the batch order, the same on every rank
    dropout_generator: object  # this rank's word dropout and case noise
    generators: dict  # every source of randomness, by the name the checkpoint saves it under
    tag_set_mask: object
    counts: object  # (num_words,) float, for word dropout
    checkpoint_path: object
    trained_with: dict  # what a checkpoint must match to be resumed
    progress: object  # checkpoint.Progress
    raw: list  # --self-train's sentences of raw text (lists of tokens), or []
    start: float = 0.0  # when the time not yet in progress.seconds began


def train(config: Config, log=log):
    """Train, save the best model to config.out, and return its metrics; with config.resume, go on
    from the checkpoint beside config.out. Ctrl-C or SIGTERM raises `Interrupted` between two
    batches.
    In a process group (torchrun), every rank trains; the ranks other than 0 return None.
    `config.threads` is the caller's to apply (the command line does): threads are the process's."""
    from tagger import distributed

    run = _set_up(config, log)
    run.start = time.perf_counter()
    with _stop_signals_caught() as caught:
        for epoch in range(run.progress.epoch + 1, run.config.epochs + 1):
            if run.progress.stopped:
                break
            if run.config.self_train and epoch > run.config.self_train and not run.splits.silver:
                run.splits.silver = _self_silver(run)
            loss, tokens, seconds = _train_epoch(run, epoch, caught)
            loss, tokens = distributed.sum_over_ranks(loss, tokens)
            # Rank 0 checkpoints every rank's own random states.
            rank_states = distributed.gather({name: g.get_state() for name, g in
                                              run.generators.items() if name != "shuffle"})
            if run.main:
                _end_epoch(run, epoch, loss / tokens, tokens / seconds, seconds, rank_states)
            # Rank 0's progress, with its decision to stop early, is every rank's.
            run.progress = distributed.broadcast(run.progress)

        distributed.write_digest(run.model)  # a test hook, off unless asked for
        if not run.main:
            return None
        _stop_if(run, caught.is_set(), caught)
        return _finish(run)


def _set_up(config: Config, log) -> _Run:
    """Data, vocabulary, model, optimizer and random generators, from the checkpoint of an
    unfinished run when resuming."""
    import torch

    from tagger import checkpoint, data, distributed, rawtext, storage
    from tagger.pretrain import PretrainedText
    from tagger.vocab import Vocab

    config.validate()
    device = resolve_device(config.device)
    rank, processes, main = distributed.rank(), distributed.world_size(), distributed.is_main()
    if not main:
        log = _silent  # rank 0 speaks for the run
    storage.check_out(config.out)
    checkpoint_path = checkpoint.path_for(config.out)
    # Before the slow part; by rank 0 alone, which saved it, on its machine (broadcast below).
    resumed = checkpoint.read(checkpoint_path) if config.resume and main else None
    splits = data.load_corpus(config)
    config = dataclasses.replace(config, epochs=data.epochs_for(config, splits.name))
    pretrained = PretrainedText.load(config.pretrained) if config.pretrained else None
    raw = [s for name in config.self_train_text for s in rawtext.read_text(name)] \
        if config.self_train else []
    # Silver sentences and raw text lend their words too: the point of raw text is the words
    # gold data lacks. (A raw token's tag, an empty dict, teaches nothing.)
    vocab = Vocab.build(splits.train + splits.more + splits.silver
                        + [[(word, {}) for word in s] for s in raw],
                        pretrained.words if pretrained else ())
    more = f" (+ {len(splits.more)}, a share each epoch)" if splits.more else ""
    more += f" (+ {len(splits.silver)} silver, a share each epoch)" if splits.silver else ""
    more += (f" (+ {len(raw)} raw, silver after epoch {config.self_train})"
             if config.self_train else "")
    log(f"corpus {splits.name}: {len(splits.train)} train{more} / {len(splits.dev)} dev / "
        f"{len(splits.test)} test sentences; {len(vocab.words)} words, {len(vocab.chars)} chars, "
        f"{len(vocab.tags)} tags; device {device}")

    model, averaged, optimizer = _model_and_optimizer(config, vocab, pretrained, device, rank)
    saved_model = averaged.module if averaged else model
    shuffle, dropout_generator, generators = _generators(config, device, rank)
    trained_with = checkpoint.identity(config, vocab.to_json(), device, processes)
    progress = _resume(distributed.broadcast(resumed), trained_with, model, optimizer,
                       generators, averaged, checkpoint_path, log)
    return _Run(config=config, log=log, device=device, rank=rank, processes=processes, main=main,
                splits=splits, vocab=vocab, model=model, ddp_model=distributed.wrap(model),
                saved_model=saved_model, averaged=averaged, optimizer=optimizer, shuffle=shuffle,
                dropout_generator=dropout_generator, generators=generators,
                tag_set_mask=vocab.tag_set_mask().to(device),
                counts=torch.tensor(vocab.word_counts, dtype=torch.float, device=device),
                checkpoint_path=checkpoint_path, trained_with=trained_with, progress=progress,
                raw=raw)


def _model_and_optimizer(config, vocab, pretrained, device, rank):
    """The Tagger, initialised from the seed, its weight average (or None) and its optimizer."""
    import torch
    from torch.optim.swa_utils import AveragedModel

    from tagger.model import Tagger

    torch.manual_seed(config.seed)
    model = Tagger(config, len(vocab.words), len(vocab.chars), len(vocab.tags),
                   pretrained.sizes if pretrained else (), len(vocab.aux_tags))
    if pretrained:
        model.pretrained.load_state_dict(pretrained.weights)
    model = model.to(device)
    # Every rank starts from the same weights (DDP broadcasts rank 0's anyway), then draws
    # dropout masks of its own.
    if rank:
        torch.manual_seed(config.seed + rank)
    # fused: one kernel updates all of a weight's Adam state. The per-element loop of the default
    # took a third of an english training step, the word embedding being 5.5M of the weights.
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)
    # Polyak averaging: the mean of the last few hundred steps' weights sits nearer the bottom of
    # the valley than any one step of Adam, which keeps bouncing around it; this average is what is
    # evaluated on dev and saved, and only the optimizer sees the raw weights.
    averaged = AveragedModel(model, multi_avg_fn=_ema_of_trained(model, config.ema_decay)) \
        if config.ema_decay else None
    return model, averaged, optimizer


def _generators(config, device, rank):
    """The batch order's generator (the same on every rank), this rank's word dropout and case
    noise generator, and every source of randomness of the run by the name its checkpoint saves
    it under."""
    import torch

    shuffle = torch.Generator().manual_seed(config.seed)
    # Every rank draws the same batches, but its own word dropout: seed + rank.
    dropout_generator = torch.Generator(device=device).manual_seed(config.seed + rank)
    # Dropout and initialisation, batch order, word dropout.
    generators = {"torch": torch.default_generator, "shuffle": shuffle,
                  "word_dropout": dropout_generator}
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        generators["cuda"] = torch.cuda.default_generators[index]
    # All but the shared shuffle are this rank's own, saved as NAME.rankR beside rank 0's.
    generators = {name if name == "shuffle" or not rank else f"{name}.rank{rank}": g
                  for name, g in generators.items()}
    return shuffle, dropout_generator, generators


def _resume(resumed, trained_with, model, optimizer, generators, averaged, checkpoint_path, log):
    """The run's progress: a new one, or the checkpoint's, restored into the model, optimizer,
    weight average and generators after checking that it is a run of the same settings."""
    from tagger import checkpoint

    if resumed:
        checkpoint.check_matches(resumed, trained_with)
        checkpoint.restore(resumed, model, optimizer, generators, averaged)
        progress = resumed.progress
        log(f"resuming after epoch {progress.epoch} (best dev {100 * progress.best:.2f}%, "
            f"epoch {progress.best_epoch}) from {checkpoint_path}")
        return progress
    if checkpoint_path.exists():
        log(f"note: {checkpoint_path} holds an unfinished run, which this one replaces once it "
            "saves its first model; stop now and add --resume to continue that run instead")
    return checkpoint.Progress()


def _train_epoch(run: _Run, epoch: int, caught) -> tuple[float, int, float]:
    """One pass over the epoch's batches; -> this rank's (summed loss, tokens, seconds)."""
    from torch import nn
    from tqdm import tqdm

    from tagger import data, distributed

    config, model = run.config, run.model
    model.train()
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate(config, epoch)
    t0, total_loss, total_tokens = time.perf_counter(), 0.0, 0
    # On N processes, every rank lists the same batches of N x --batch-size sentences
    # (one shuffle generator, same seed) and trains on its share of each.
    batches = list(data.batches(run.splits.epoch_train(epoch, config.brown_share,
                                                       config.silver_share),
                                run.processes * config.batch_size, shuffle=True,
                                generator=run.shuffle))
    # disable=None: off when stderr is not a terminal
    bar = tqdm(batches, desc=f"epoch {epoch}", unit="batch", leave=False, file=sys.stderr,
               disable=None if config.progress and run.main else True)
    for sentences in bar:
        sentences = distributed.shard(sentences)
        words = [[w for w, _ in s] for s in sentences]
        if config.case_noise:
            words = recase(words, config.case_noise, run.dropout_generator)
        batch = run.vocab.batch(words, [[t for _, t in s] for s in sentences]).to(run.device)
        tokens = int(batch.lengths.sum())
        # The epoch is abandoned: the checkpoint of the one before is where --resume starts, and
        # redoing this one gives the same weights as finishing it would. Ranks stop together, at
        # the same batch, or those going on would wait forever for the others' gradients: one
        # sum over the ranks a step shares the flag (and counts the step's tokens).
        stopping, step_tokens = distributed.sum_over_ranks(caught.is_set(), tokens)
        _stop_if(run, stopping, caught)
        if config.word_dropout:
            batch.words = word_dropout(batch.words, run.counts, config.word_dropout,
                                       run.dropout_generator)
        loss = _batch_loss(run, batch, tokens)
        run.optimizer.zero_grad(set_to_none=True)
        # DDP averages the ranks' gradients. Weighting each rank's mean loss by its share of the
        # step's tokens makes that average the gradient of the mean over all the step's tokens,
        # as one process with the whole batch has it (weight 1.0 there).
        (loss * (run.processes * tokens / step_tokens)).backward()
        if config.clip:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        run.optimizer.step()
        if run.averaged:
            run.averaged.update_parameters(model)
        total_loss += loss.item() * tokens
        total_tokens += tokens
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    return total_loss, total_tokens, time.perf_counter() - t0


def _batch_loss(run: _Run, batch, tokens: int):
    """The mean loss over the batch's tokens: NLLLoss (tag_loss) at gold tokens; at silver ones,
    the cross-entropy with the teacher's probabilities, -sum_t q(t) log p(t), times
    --silver-weight (Hinton et al.'s distillation, at temperature 1); with Brown's own tags, the
    second head's NLLLoss as well."""
    import torch.nn.functional as F

    from tagger.vocab import IGNORE_INDEX

    if batch.aux_tags is None:
        log_probs = run.ddp_model(batch)  # (B, T, num_tags)
        if batch.soft is None:
            return tag_loss(log_probs.flatten(0, 1), batch.tags.flatten(), run.tag_set_mask)
        aux_loss = 0.0
    else:
        log_probs, aux_log_probs = run.ddp_model(batch, aux=True)
        # Each head's loss is summed over the tokens that have its kind of tag, and both are
        # divided by all of the batch's tokens: a token counts as much in one head as in the
        # other, and a batch without one kind adds nothing to that head.
        aux_loss = F.nll_loss(aux_log_probs.flatten(0, 1), batch.aux_tags.flatten(),
                              ignore_index=IGNORE_INDEX, reduction="sum")
    loss = tag_loss(log_probs.flatten(0, 1), batch.tags.flatten(), run.tag_set_mask,
                    reduction="sum") + aux_loss
    if batch.soft is not None:
        loss = loss - run.config.silver_weight * (batch.soft * log_probs).sum()
    return loss / tokens


def _end_epoch(run: _Run, epoch: int, loss: float, tokens_per_second: float, seconds: float,
               rank_states: list):
    """Rank 0, after each epoch: dev accuracy, the model saved when it is the best so far, early
    stopping, and the checkpoint that --resume starts from."""
    from tagger import checkpoint, storage
    from tagger.tag import PosTagger

    config, progress = run.config, run.progress
    # A new PosTagger each time: one keeps what the model made of each word form (FormCache),
    # which the epoch's steps have changed.
    tagger = PosTagger(run.saved_model, run.vocab, config, run.device)
    dev_accuracy = tagger.accuracy(run.splits.dev or run.splits.train)  # no dev: still trains
    progress.history.append({"epoch": epoch, "loss": loss, "dev_accuracy": dev_accuracy,
                             "seconds": seconds, "tokens_per_second": tokens_per_second})
    improved = dev_accuracy > progress.best
    run.log(f"epoch {epoch:3d}  loss {loss:.4f}  dev {100 * dev_accuracy:.2f}%  {seconds:.1f} s  "
            f"{tokens_per_second:,.0f} tok/s" + ("  *" if improved else ""))
    if improved:
        if epoch == 1:  # an older run's checkpoint stops matching --out here
            run.checkpoint_path.unlink(missing_ok=True)
        storage.save(config.out, run.saved_model, run.vocab, config,
                     {"corpus": run.splits.name, "history": progress.history, "best_epoch": epoch,
                      "dev_accuracy": dev_accuracy})
        progress.best, progress.best_epoch = dev_accuracy, epoch
    elif config.patience and epoch - progress.best_epoch >= config.patience:
        run.log(f"no better dev accuracy for {config.patience} epochs, stopping")
        progress.stopped = True
    # Saved after the model: a run killed in between redoes this epoch, which saves the same
    # model again.
    progress.epoch = epoch
    progress.seconds += time.perf_counter() - run.start
    run.start = time.perf_counter()
    others = {name: state for states in rank_states[1:] for name, state in states.items()}
    checkpoint.save(run.checkpoint_path, run.model, run.optimizer, run.generators, progress,
                    run.trained_with, rng_states=others, averaged=run.averaged)


def _finish(run: _Run) -> dict:
    """Rank 0, once training ends: test accuracy of the best model saved, and its metrics."""
    from tagger import storage
    from tagger.tag import PosTagger

    train_seconds = run.progress.seconds + time.perf_counter() - run.start
    test = PosTagger.load(run.config.out, run.device).scores(run.splits.test) \
        if run.splits.test else None
    metrics = {"corpus": run.splits.name, "history": run.progress.history,
               "best_epoch": run.progress.best_epoch, "dev_accuracy": run.progress.best,
               "test": test, "train_seconds": train_seconds}
    storage.save_metrics(run.config.out, metrics)
    run.checkpoint_path.unlink(missing_ok=True)  # the run is finished
    self_silver_path(run.config.out).unlink(missing_ok=True)
    return metrics


def self_silver_path(out) -> "Path":
    """Where --self-train keeps its silver sentences while the run lasts, beside the checkpoint."""
    from pathlib import Path

    from tagger import silver

    return Path(silver.beside(out, ".self-silver.jsonl"))


def _self_silver(run: _Run) -> list:
    """--self-train's silver sentences: the raw text as the model of the epoch --self-train names
    tags it, each token's target its probabilities. Made once, then kept beside the checkpoint,
    where a resumed run finds them; every process makes (or reads) its own."""
    from tagger import data, silver
    from tagger.tag import PosTagger

    path = self_silver_path(run.config.out)
    if run.progress.epoch > run.config.self_train:  # resumed after it was made
        return data.read_silver(path)
    t0 = time.perf_counter()
    tagger = PosTagger(run.saved_model, run.vocab, run.config, run.device)
    records = list(silver.tag_silver([tagger], run.raw, "soft"))
    if run.main:
        silver.write(path, records)
    run.log(f"self-training: the model of epoch {run.config.self_train} tagged {len(records):,} "
            f"sentences of raw text in {time.perf_counter() - t0:.0f} s")
    return data.silver_sentences(records)


def _stop_if(run: _Run, stop: bool, caught):
    if stop:
        # Ranks that saw no signal themselves (rank 0 was told) stop as for Ctrl-C.
        raise Interrupted(_interrupted_message(run.progress, run.config.out),
                          caught.signum or signal.SIGINT)


def _interrupted_message(progress, out):
    if not progress.best_epoch:
        return "interrupted before the first epoch ended; nothing was saved"
    return (f"interrupted: best model so far (epoch {progress.best_epoch}, dev "
            f"{100 * progress.best:.2f}%) is in {out}; continue with --resume")


class _Caught:
    """The first stop signal that arrived, if any."""

    signum = 0

    def is_set(self):
        return bool(self.signum)


@contextmanager
def _stop_signals_caught(signals=(signal.SIGINT, signal.SIGTERM)):
    """Within: Ctrl-C (SIGINT) and SIGTERM only record that they came, and the loop reads that
    between batches, so a run stops where everything it has saved is whole. A second one acts at
    once, as before (saves are atomic, so even then nothing saved is lost). Yields the record."""
    caught = _Caught()
    # Signals reach only the main thread, and a signal that is ignored (SIGINT of a background
    # job, nohup) stays so.
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = {signum: signal.getsignal(signum) for signum in signals}
    watched = [signum for signum, handler in previous.items() if handler != signal.SIG_IGN]

    def handler(signum, frame):
        caught.signum = caught.signum or signum
        for each in watched:
            signal.signal(each, _restored(previous[each]))

    for signum in watched:
        signal.signal(signum, handler)
    try:
        yield caught
    finally:
        for signum in watched:
            signal.signal(signum, _restored(previous[signum]))


def _restored(handler):
    # None: a handler installed outside Python; SIGINT's is Python's own in practice.
    return handler if handler is not None else signal.default_int_handler


@cli
def parse_args(argv=None) -> Config:
    parser = ArgumentParser(prog="python -m tagger.train", description=__doc__.split("\n")[0])
    return Config.from_args(Config.add_arguments(parser).parse_args(argv))


def main(argv=None):
    run(parse_args(argv))  # --help and a flag's error end in parse_args, before torch loads


def run(config: Config):
    """Train as the command line does: report, and exit with one line on an error or Ctrl-C."""
    from tagger import distributed

    distributed.exits_at_once(cli(_run))(config)


def _run(config: Config):
    import torch

    from tagger import distributed

    if config.threads:
        torch.set_num_threads(config.threads)

    # Under torchrun, this process is one rank of the run until train() ends, by an error too.
    with distributed.process_group(resolve_device(config.device)):
        try:
            metrics = train(config)
        except Interrupted as e:
            if distributed.is_main():
                raise
            sys.exit(e.exit_code)  # quietly: rank 0 says where the best model is
    if metrics is None:
        return  # not rank 0, which reports
    test = metrics["test"]
    if test:
        unknown = (f"{100 * test['unknown_accuracy']:.2f}%" if test["unknown_accuracy"] is not None
                   else "n/a")
        print(f"test accuracy {100 * test['accuracy']:.2f}% on {test['tokens']:,} tokens; "
              f"unknown words {unknown} on {test['unknown_tokens']:,}")
    print(f"best dev accuracy {100 * metrics['dev_accuracy']:.2f}% (epoch {metrics['best_epoch']}); "
          f"model saved to {config.out}")


if __name__ == "__main__":
    main()
