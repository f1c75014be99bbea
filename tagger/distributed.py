"""Training on several processes, as torchrun starts them: the few helpers train.py needs around
PyTorch's own engine (torch.distributed, DistributedDataParallel, DistributedSampler).

    torchrun --nproc_per_node=2 -m tagger.train --corpus treebank --threads 1

torchrun starts one process a rank and tells each where it stands through the environment
(WORLD_SIZE, RANK, LOCAL_RANK and the rendezvous address). `process_group` joins the run's group
from there: gloo on CPU, nccl on CUDA with GPU LOCAL_RANK. Every other helper reads the group that
is in place, and without one (plain `python -m tagger.train`, or `train()` called from Python) is
rank 0 of 1 and hands its input back untouched, so a single process trains exactly as before.

Every rank lists the same global batches of N x --batch-size sentences (the shuffle generator is
seeded with the base seed on every rank) and trains on its share of each (`shard`); DDP averages
the gradients, so all ranks take the same step and stay one model. Rank 0 alone logs, evaluates
and saves; what it decides reaches the others by `broadcast`.

Test hook: with TAGGER_RANK_DIGESTS=FOLDER in the environment, each rank writes the SHA-256 of its
final weights to FOLDER/rank<R>.sha256 (`write_digest`), so a test can see, from outside, that the
ranks ended as one model.
"""

import hashlib
import os
import sys
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

DIGESTS_VARIABLE = "TAGGER_RANK_DIGESTS"


def launched_by_torchrun() -> bool:
    return all(name in os.environ for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"))


@contextmanager
def process_group(device: torch.device):
    """Within: this process is a rank of the run torchrun started (nothing, when it did not).
    The group is left on the way out, by an error or Ctrl-C too."""
    if not launched_by_torchrun():
        yield
        return
    if device.type == "cuda":
        # nccl wants one GPU a rank, and the object collectives below use the current one.
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def exits_at_once(main):
    """Wrap a command-line `main` so that, in a process torchrun started, the process ends as soon
    as `main` has (with its exit code, output flushed), without Python's shutdown.

    Why: gloo's worker threads let go of a finished collective's tensors a moment after the
    collective returns, and that needs the interpreter. When the process is already shutting down
    then, the thread cannot have it and the C++ runtime aborts the process ("terminate called
    without an active exception", SIGABRT), which torchrun reports as a failed run although
    everything was done and saved. It struck about one run in ten here (torch 2.13, a busy CPU),
    right after the last collective. destroy_process_group() does not stop those threads; there
    is nothing left to do once `main` is over, so the process skips the shutdown they race with.
    """

    @wraps(main)
    def wrapper(*args, **kwargs):
        if not launched_by_torchrun():
            return main(*args, **kwargs)
        code = 0
        try:
            main(*args, **kwargs)
        except SystemExit as e:  # how tagger.errors.cli ends: 2 for a user error, 130 Ctrl-C
            code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
        except BaseException:  # a bug: its traceback, as Python would print it
            sys.excepthook(*sys.exc_info())
            code = 1
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass  # a reader that went away, or a closed stream: nothing more to say
        os._exit(code)

    return wrapper


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0: the one process that logs, evaluates and saves."""
    return rank() == 0


def wrap(model):
    """The model to train with: in DDP on several processes, which averages the ranks' gradients
    during backward (and broadcasts rank 0's weights once, here)."""
    if not dist.is_initialized():
        return model
    on_gpu = next(model.parameters()).is_cuda
    return DistributedDataParallel(model, device_ids=[torch.cuda.current_device()] if on_gpu
                                   else None)


def shard(batch: list) -> list:
    """This rank's share of a global batch: its every N-th sentence. The batch is sorted by
    length, so the shares are alike in length and no rank waits long on another.
    DistributedSampler pads a batch that does not divide evenly by repeating its first sentences,
    so every rank has at least one to train on. Its shuffle is off (and `set_epoch` would have
    nothing to reseed): the order comes from data.batches' generator, shared by all ranks and
    checkpointed, so N processes see the batches one process with N x --batch-size would."""
    if not dist.is_initialized():
        return batch
    return [batch[i] for i in DistributedSampler(batch, shuffle=False)]


def _device():
    return (torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl"
            else torch.device("cpu"))


def sum_over_ranks(*numbers):
    """The numbers summed over all ranks (a collective: every rank must call it)."""
    if not dist.is_initialized():
        return numbers
    total = torch.tensor(numbers, dtype=torch.float64, device=_device())
    dist.all_reduce(total)
    return tuple(total.tolist())


def broadcast(value):
    """Rank 0's `value`, on every rank (a collective). Any picklable object."""
    if not dist.is_initialized():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value) -> list:
    """Every rank's `value`, in rank order, on every rank (a collective)."""
    if not dist.is_initialized():
        return [value]
    values = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return values


def write_digest(model):
    """The test hook of the module's docstring: nothing unless TAGGER_RANK_DIGESTS is set."""
    folder = os.environ.get(DIGESTS_VARIABLE)
    if not folder:
        return
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    Path(folder, f"rank{rank()}.sha256").write_text(digest.hexdigest() + "\n")
