"""Train a tagger: `python -m tagger.train --bidirectional [--corpus treebank] [--encoder hand|torch]`.

Reads the corpus, builds the vocabularies from the training split, trains with Adam on NLLLoss,
evaluates on dev after every epoch, keeps the best model (saved atomically to `--out`), stops early
when dev accuracy stops improving, and ends with test accuracy. Same seed on CPU, same model.
"""

import argparse
import sys
import time

import torch
from torch import nn
from tqdm import tqdm

from tagger import data, storage
from tagger.config import Config, resolve_device
from tagger.errors import cli
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
    """Train, save the best model to config.out, and return its metrics."""
    config.validate()
    device = resolve_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
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
    loss_fn = nn.NLLLoss(ignore_index=-100)
    counts = torch.tensor(vocab.word_counts, dtype=torch.float, device=device)
    tagger = PosTagger(model, vocab, config, device)
    dev = splits.dev or splits.train  # a corpus without dev data still trains

    history, best, best_epoch, start = [], -1.0, 0, time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        t0, total_loss, total_tokens = time.perf_counter(), 0.0, 0
        batches = list(data.batches(splits.train, config.batch_size, shuffle=True,
                                    generator=generator))
        bar = tqdm(batches, desc=f"epoch {epoch}", unit="batch", leave=False,
                   disable=None if config.progress else True, file=sys.stderr)  # None: off when not a terminal
        for sentences in bar:
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
        history.append({"epoch": epoch, "loss": total_loss / total_tokens,
                        "dev_accuracy": dev_accuracy, "seconds": seconds,
                        "tokens_per_second": total_tokens / seconds})
        improved = dev_accuracy > best
        log(f"epoch {epoch:3d}  loss {total_loss / total_tokens:.4f}  dev {100 * dev_accuracy:.2f}%"
            f"  {seconds:.1f} s  {total_tokens / seconds:,.0f} tok/s" + ("  *" if improved else ""))
        if improved:
            best, best_epoch = dev_accuracy, epoch
            storage.save(config.out, model, vocab, config,
                         {"corpus": splits.name, "history": history, "best_epoch": epoch,
                          "dev_accuracy": dev_accuracy})
        elif config.patience and epoch - best_epoch >= config.patience:
            log(f"no better dev accuracy for {config.patience} epochs, stopping")
            break

    train_seconds = time.perf_counter() - start
    tagger = PosTagger.load(config.out, device)
    test = tagger.evaluate(splits.test) if splits.test else None
    metrics = {"corpus": splits.name, "history": history, "best_epoch": best_epoch,
               "dev_accuracy": best, "test": test, "train_seconds": train_seconds}
    storage.save_metrics(config.out, metrics)
    return metrics


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tagger.train", description=__doc__.split("\n")[0])
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
