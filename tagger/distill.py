"""Self-training and distillation: `python -m tagger.distill --teacher models/a [--teacher ...] --out models/best`.

A teacher (one model, or the ensemble of several) tags raw everyday English that no one tagged
(tagger.rawtext.EVERYDAY: product reviews, pros and cons, film opinions, web forums; 1.3M
tokens), and a student learns from the gold corpus plus these silver sentences
(`tagger.train --silver`), each silver token towards what the teacher made of it:

- `--targets soft` (the default): the teacher's probabilities (knowledge distillation, Hinton et
  al. 2015): the student learns how sure the teacher was, and which tags it hesitated between;
- `--targets top`: its best tag alone (classic self-training);
- `--targets agree`: the best tag where all the teachers agree, nothing where they do not
  (tri-training, Zhou & Li 2005: each of three models learns from the other two where they agree;
  Ruder & Plank 2018 found it the strongest such method for taggers out of their domain).

The silver sentences are written beside the model (`<out>.silver.jsonl`, or `--silver`), so more
students (other seeds, the other encoder) can learn from them with `tagger.train --silver`. Every
flag of `tagger.train` sets the student. MASC, the evaluation data, is never read.
"""

import sys
import time
from dataclasses import replace

from tagger.config import Config
from tagger.errors import ArgumentParser, TaggerError, cli


def make_silver(args, config: Config, path: str, log) -> int:
    """Tag the raw text with the teachers and write the silver file; -> its tokens."""
    from tagger import rawtext, silver
    from tagger.tag import PosTagger

    t0 = time.perf_counter()
    sentences = [s for name in args.text for s in rawtext.read_text(name)]
    # With --targets agree each teacher votes on its own; otherwise they are one ensemble.
    if args.targets == "agree":
        teachers = [PosTagger.load(folder, config.device) for folder in args.teacher]
        if len(teachers) < 2:
            raise TaggerError("--targets agree needs two --teacher models or more")
    else:
        teachers = [PosTagger.load(args.teacher, config.device)]
    if any(t.vocab.tags != teachers[0].vocab.tags for t in teachers):
        raise TaggerError("the --teacher models predict other tags; give models trained on one "
                          "corpus")

    silver.write(path, silver.tag_silver(teachers, sentences, args.targets))
    tokens = sum(map(len, sentences))
    log(f"silver: {len(sentences):,} sentences, {tokens:,} tokens of {', '.join(args.text)} "
        f"tagged by {len(args.teacher)} teacher(s), targets {args.targets}, in "
        f"{time.perf_counter() - t0:.0f} s -> {path}")
    return tokens


def _parser():
    from tagger.rawtext import EVERYDAY, NLTK_TEXTS

    parser = ArgumentParser(prog="python -m tagger.distill", description=__doc__.split("\n")[0])
    parser.add_argument("--teacher", action="append", required=True, metavar="MODEL",
                        help="a model folder that tags the raw text; several make an ensemble "
                             "(or, with --targets agree, vote)")
    parser.add_argument("--text", nargs="+", default=list(EVERYDAY), metavar="NAME",
                        help=f"raw text: NLTK corpora ({', '.join(NLTK_TEXTS)}) or plain-text "
                             f"files (default: {' '.join(EVERYDAY)})")
    parser.add_argument("--targets", choices=("soft", "top", "agree"), default="soft",
                        help="what a silver token teaches: the teachers' mean probabilities, "
                             "their best tag, or the best tag where all agree (default: soft)")
    parser.add_argument("--silver-only", action="store_true",
                        help="write the silver file and stop: students (other seeds, encoders) "
                             "then learn from it with python -m tagger.train --silver FILE")
    return Config.add_arguments(parser)


@cli
def main(argv=None):
    args = _parser().parse_args(argv)
    config = Config.from_args(args)
    from tagger import silver

    config = replace(config, silver=config.silver or silver.beside(config.out, ".silver.jsonl"))
    import torch

    from tagger import train

    if config.threads:  # for the teachers; the student's training sets it again
        torch.set_num_threads(config.threads)
    make_silver(args, config, config.silver, train.log)
    if not args.silver_only:
        train.run(config)


if __name__ == "__main__":
    main(sys.argv[1:])
