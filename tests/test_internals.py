"""Each private-API helper of src/utils/internals.py still does its job on the installed libraries."""

import pytorch_lightning as pl
import torch
from hydra.core.utils import JobReturn, JobStatus
from pytorch_lightning.loggers import TensorBoardLogger

from src.utils.internals import FastHookNames, hydra_args_parser, job_error, tensorboard_file_writer


def test_hydras_parser_reads_overrides_and_flags_as_hydra_does():
    args = hydra_args_parser().parse_args(["-m", "data.input_length=3,5", "model=mlp"])
    assert args.multirun and args.overrides == ["data.input_length=3,5", "model=mlp"]


def test_a_failed_job_return_gives_its_exception():
    error = ValueError("boom")
    job = JobReturn(status=JobStatus.FAILED, _return_value=error)
    assert job_error(job) is error


def test_the_tensorboard_logger_exposes_its_event_file_writer(tmp_path):
    logger = TensorBoardLogger(str(tmp_path), name="", version="")
    writer = tensorboard_file_writer(logger)
    assert callable(writer.add_summary) and str(tmp_path) in writer.get_logdir()


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
    from src.utils.validation import ConfigError

    for error in (ConfigError("data.x", "bad", full_key=True), RunInterrupted("stopped", 15), TrainingDiverged("nan")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
