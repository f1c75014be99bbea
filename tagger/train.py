"""Train a tagger: `python -m tagger.train --bidirectional [--corpus treebank] [--encoder hand|torch]`.

Reads the corpus, builds the vocabularies from the training split, trains with Adam on NLLLoss,
evaluates on dev after every epoch, keeps the best model (saved atomically to `--out`), stops early
when dev accuracy stops improving, and ends with test accuracy. Same seed on CPU, same model.

Every epoch ends with a checkpoint (tagger.checkpoint), so a run that was stopped, by Ctrl-C or by
anything else, continues with `--resume` to the very weights it would have reached. Ctrl-C stops
between two batches, with one line that says where the best model is (exit code 130).
"""

import signal
import sys
import threading
import time
from contextlib import contextmanager

import torch
from torch import nn
from tqdm import tqdm

from tagger import checkpoint, data, storage
from tagger.config import Config, resolve_device
from tagger.errors import ArgumentParser, Interrupted, cli
from tagger.model import Tagger
from tagger.tag import PosTagger
from tagger.vocab import Vocab


def word_dropout(words, counts, alpha, generator):
    """Replace word w by <unk> with probability alpha / (alpha + count(w)), so that rare words
    teach the model what to do with words it has never seen (Kiperwasser & Goldberg, 2016)."""
    p = alpha / (alpha + counts[words])  # (B, T)
    drop = torch.rand(words.shape, generator=generator, device=words.device) < p
    return torch.where(drop & (words > 1), torch.full_like(words, 1), words)  # 1 is <unk>


def log(message):
    print(message, file=sys.stderr, flush=True)


def train(config: Config, log=log):
    """Train, save the best model to config.out, and return its metrics; with config.resume, go on
    from the checkpoint beside config.out. Ctrl-C raises `Interrupted` between two batches."""
    config.validate()
    device = resolve_device(config.device)
    storage.check_out(config.out)
    if config.threads:
        torch.set_num_threads(config.threads)
    checkpoint_path = checkpoint.path_for(config.out)
    resumed = checkpoint.read(checkpoint_path) if config.resume else None  # before the slow part
    splits = data.load_corpus(config)
    vocab = Vocab.build(splits.train)
    log(f"corpus {splits.name}: {len(splits.train)} train / {len(splits.dev)} dev / "
        f"{len(splits.test)} test sentences; {len(vocab.words)} words, {len(vocab.chars)} chars, "
        f"{len(vocab.tags)} tags; device {device}")

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    dropout_generator = torch.Generator(device=device).manual_seed(config.seed)
    model = Tagger(config, len(vocab.words), len(vocab.chars), len(vocab.tags)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    # Every source of randomness in a run: dropout and initialisation, batch order, word dropout.
    generators = {"torch": torch.default_generator, "shuffle": generator,
                  "word_dropout": dropout_generator}
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        generators["cuda"] = torch.cuda.default_generators[index]
    trained_with = checkpoint.identity(config, vocab.to_json(), device)
    progress = checkpoint.Progress()
    if resumed:
        checkpoint.check_matches(resumed, trained_with)
        checkpoint.restore(resumed, model, optimizer, generators)
        progress = resumed.progress
        log(f"resuming after epoch {progress.epoch} (best dev {100 * progress.best:.2f}%, "
            f"epoch {progress.best_epoch}) from {checkpoint_path}")
    elif checkpoint_path.exists():
        log(f"note: {checkpoint_path} holds an unfinished run, which this one replaces once it "
            "saves its first model; stop now and add --resume to continue that run instead")
    loss_fn = nn.NLLLoss(ignore_index=-100)
    counts = torch.tensor(vocab.word_counts, dtype=torch.float, device=device)
    tagger = PosTagger(model, vocab, config, device)
    dev = splits.dev or splits.train  # a corpus without dev data still trains

    start = time.perf_counter()
    with _sigint_caught() as interrupted:

        def stop_if_interrupted():
            if interrupted():
                raise Interrupted(_interrupted_message(progress, config.out))

        for epoch in range(progress.epoch + 1, config.epochs + 1):
            if progress.stopped:
                break
            model.train()
            t0, total_loss, total_tokens = time.perf_counter(), 0.0, 0
            batches = list(data.batches(splits.train, config.batch_size, shuffle=True,
                                        generator=generator))
            bar = tqdm(batches, desc=f"epoch {epoch}", unit="batch", leave=False,
                       disable=None if config.progress else True, file=sys.stderr)  # None: off when not a terminal
            for sentences in bar:
                # The epoch is abandoned: the checkpoint of the one before is where --resume
                # starts, and redoing this one gives the same weights as finishing it would.
                stop_if_interrupted()
                batch = vocab.batch([[w for w, _ in s] for s in sentences],
                                    [[t for _, t in s] for s in sentences]).to(device)
                if config.word_dropout:
                    batch.words = word_dropout(batch.words, counts, config.word_dropout,
                                               dropout_generator)
                log_probs = model(batch)  # (B, T, num_tags)
                loss = loss_fn(log_probs.flatten(0, 1), batch.tags.flatten())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.clip:
                    nn.utils.clip_grad_norm_(model.parameters(), config.clip)
                optimizer.step()
                tokens = int(batch.lengths.sum())
                total_loss += loss.item() * tokens
                total_tokens += tokens
                bar.set_postfix(loss=f"{loss.item():.3f}")
            seconds = time.perf_counter() - t0
            model.eval()
            dev_accuracy = tagger.accuracy(dev)
            progress.history.append({"epoch": epoch, "loss": total_loss / total_tokens,
                                     "dev_accuracy": dev_accuracy, "seconds": seconds,
                                     "tokens_per_second": total_tokens / seconds})
            improved = dev_accuracy > progress.best
            log(f"epoch {epoch:3d}  loss {total_loss / total_tokens:.4f}  dev "
                f"{100 * dev_accuracy:.2f}%  {seconds:.1f} s  {total_tokens / seconds:,.0f} tok/s"
                + ("  *" if improved else ""))
            if improved:
                if epoch == 1:  # an older run's checkpoint stops matching --out here
                    checkpoint_path.unlink(missing_ok=True)
                storage.save(config.out, model, vocab, config,
                             {"corpus": splits.name, "history": progress.history,
                              "best_epoch": epoch, "dev_accuracy": dev_accuracy})
                progress.best, progress.best_epoch = dev_accuracy, epoch
            elif config.patience and epoch - progress.best_epoch >= config.patience:
                log(f"no better dev accuracy for {config.patience} epochs, stopping")
                progress.stopped = True
            # Saved after the model: a run killed in between redoes this epoch, which saves the
            # same model again.
            progress.epoch = epoch
            progress.seconds += time.perf_counter() - start
            start = time.perf_counter()
            checkpoint.save(checkpoint_path, model, optimizer, generators, progress, trained_with)

        stop_if_interrupted()
        train_seconds = progress.seconds + time.perf_counter() - start
        tagger = PosTagger.load(config.out, device)
        test = tagger.evaluate(splits.test) if splits.test else None
        metrics = {"corpus": splits.name, "history": progress.history,
                   "best_epoch": progress.best_epoch, "dev_accuracy": progress.best, "test": test,
                   "train_seconds": train_seconds}
        storage.save_metrics(config.out, metrics)
        checkpoint_path.unlink(missing_ok=True)  # the run is finished
    return metrics


def _interrupted_message(progress, out):
    if not progress.best_epoch:
        return "interrupted before the first epoch ended; nothing was saved"
    return (f"interrupted: best model so far (epoch {progress.best_epoch}, dev "
            f"{100 * progress.best:.2f}%) is in {out}; continue with --resume")


@contextmanager
def _sigint_caught():
    """Within: Ctrl-C only sets a flag, which the loop reads between batches, so a run stops where
    everything it has saved is whole. A second Ctrl-C interrupts at once, as before (saves are
    atomic, so even then nothing saved is lost). Yields the flag's reader."""
    caught = threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    # Signals reach only the main thread, and a SIGINT that is ignored (a background job) stays so.
    if threading.current_thread() is not threading.main_thread() or previous == signal.SIG_IGN:
        yield caught.is_set
        return
    previous = previous if previous is not None else signal.default_int_handler

    def handler(signum, frame):
        caught.set()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield caught.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


@cli
def main(argv=None):
    parser = ArgumentParser(prog="python -m tagger.train", description=__doc__.split("\n")[0])
    config = Config.from_args(Config.add_arguments(parser).parse_args(argv))
    metrics = train(config)
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
