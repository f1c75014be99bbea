"""tagger.bulk on a cluster simulated on this machine (ray.cluster_utils.Cluster: a head node and
two worker nodes): a worker node removed while the job runs, the job still ends, every file's
output tagger.tag's own."""

import subprocess
import sys
import time

import pytest

from test_bulk import paragraphs, tag_output

ray = pytest.importorskip("ray", reason="tagger[cluster] (ray[data]) is not installed")


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    # No CPU on the head and one on each worker node: the two actors run one on each worker
    # node, so the node removed takes an actor, and the block it is tagging, with it.
    simulated = Cluster(initialize_head=True, head_node_args={"num_cpus": 0,
                                                              "include_dashboard": False})
    workers = [simulated.add_node(num_cpus=1) for _ in range(2)]
    simulated.wait_for_nodes()
    yield simulated, workers
    simulated.shutdown()


@pytest.mark.slow
def test_a_worker_node_lost_mid_job_changes_nothing_in_the_output(cluster, tmp_path):
    from test_bulk import BLOCK, TINY_RUN, Config, train

    simulated, workers = cluster
    model = str(tmp_path / "model")
    train(Config(**TINY_RUN, epochs=3, out=model), log=lambda message: None)
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    for k in range(20):
        (folder / f"f{k:02d}.txt").write_text(paragraphs(200 + k, 25))
    process = subprocess.Popen(
        [sys.executable, "-m", "tagger.bulk", str(folder), "--out", str(out), "--model", model,
         "--format", "conllu", "--address", simulated.address, "--workers", "2",
         "--block-bytes", str(BLOCK), "--device", "cpu"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(out.glob("*.conllu")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(out.glob("*.conllu"))) < 20  # mid-job
    simulated.remove_node(workers[0])
    assert process.wait(timeout=300) == 0, process.stderr.read()
    assert len(list(out.glob("*.conllu"))) == 20
    for k in range(20):
        assert (out / f"f{k:02d}.txt.conllu").read_text() == tag_output(
            model, folder / f"f{k:02d}.txt", "--format", "conllu")
