"""Each private-API helper of src/private_api.py still does its job on the installed libraries.

(``optuna_trial`` is exercised against a real study storage in tests/test_pruning.py.)
"""

import pytorch_lightning as pl
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus

from src.private_api import FastHookNames, basic_sweep_jobs, hydra_args_parser, job_error


def test_hydras_parser_reads_overrides_and_flags_as_hydra_does():
    args = hydra_args_parser().parse_args(["-m", "data.input_length=3,5", "model=mlp"])
    assert args.multirun and args.overrides == ["data.input_length=3,5", "model=mlp"]


def test_the_basic_sweepers_jobs_are_the_product_of_its_swept_values_in_its_order():
    overrides = OverridesParser.create().parse_overrides(["model=rnn", "data.input_length=range(3,5)", "seed=1,2"])
    assert basic_sweep_jobs(overrides) == [
        ["model=rnn", "data.input_length=3", "seed=1"],
        ["model=rnn", "data.input_length=3", "seed=2"],
        ["model=rnn", "data.input_length=4", "seed=1"],
        ["model=rnn", "data.input_length=4", "seed=2"],
    ]


def test_a_failed_job_return_gives_its_exception():
    error = ValueError("boom")
    job = JobReturn(status=JobStatus.FAILED, _return_value=error)
    assert job_error(job) is error


class Module(FastHookNames, pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)


def test_lightning_still_names_its_current_hook_in_the_attribute_the_fast_path_handles():
    assert "_current_fx_name" in vars(pl.LightningModule())  # Lightning sets it in __init__
    module = Module()
    module._current_fx_name = "training_step"
    assert vars(module)["_current_fx_name"] == "training_step"  # a plain attribute
    module.other = torch.nn.Linear(1, 1)  # everything else still goes through nn.Module
    assert "other" in module._modules


def test_the_errors_a_job_raises_survive_pickling_to_the_launching_process():
    import pickle

    from src.callbacks.safety import RunInterrupted, TrainingDiverged
    from src.config.errors import ConfigError

    for error in (ConfigError("data.x", "bad", full_key=True), RunInterrupted("stopped", 15), TrainingDiverged("nan")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
