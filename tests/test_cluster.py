"""Cluster sweeps: the submitit launcher, run locally (launcher=local) through the code path SLURM uses."""

import pytest

from tests.conftest import run_train
from tests.helpers import read_scalars
from tests.test_parallel import TINY_SWEEP

pytestmark = pytest.mark.slow  # sweeps and searches as real subprocesses


def test_submitit_local_sweep_runs_each_job_as_its_own_process(tmp_path):
    run_train(
        "-m", "launcher=local", "data.input_length=3,4", *TINY_SWEEP, "trainer.max_epochs=1", cwd=tmp_path, timeout=300
    )
    (root,) = (tmp_path / "multirun").glob("*/*")
    for job in ("data.input_length=3", "data.input_length=4"):
        assert (root / job / "COMPLETED").is_file() and read_scalars(root / job)["test/acc"]
    assert (root / "summary.tsv").read_text().count("\tCOMPLETED\t") == 2
    assert (root / "report" / "report.md").is_file()
    assert list((root / ".submitit").glob("*/*_submitted.pkl"))  # submitit's own job records


def test_slurm_preset_composes_with_the_knobs_a_cluster_user_sets(tmp_path):
    out = run_train(
        "launcher=slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.timeout_min=30",
        "--cfg",
        "hydra",
        cwd=tmp_path,
    ).stdout
    for line in (
        "partition: gpu",
        "timeout_min: 30",
        "gpus_per_node: 1",
        "cpus_per_task: 8",
        "mem_gb: 32",
        "array_parallelism: 64",
        "SlurmLauncher",
    ):
        assert line in out, line
