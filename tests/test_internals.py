"""Each private-API helper of src/utils/internals.py still does its job on the installed libraries."""

import inspect

import pytest
import pytorch_lightning as pl
import torch
from hydra.core.utils import JobReturn, JobStatus
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.demos.boring_classes import BoringModel
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.profilers import SimpleProfiler
from pytorch_lightning.trainer import call

from src.utils.internals import (
    NO_OP_MODULE_HOOKS,
    FastHookNames,
    dispatch_callback_hooks_to_implementers,
    hydra_args_parser,
    job_error,
    module_hook_caller,
    remember_hook_signatures,
    tensorboard_file_writer,
)
from src.utils.profiling import NoProfiler


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


class Recorder(pl.Callback):
    """Records every hook it implements, with the module's current hook name at the time."""

    def __init__(self, calls: list):
        self.calls = calls

    def record(self, hook: str, trainer, module, *args) -> None:
        self.calls.append((type(self).__name__, hook, module._current_fx_name, len(args)))

    def on_train_batch_end(self, trainer, module, *args):
        self.record("on_train_batch_end", trainer, module, *args)

    def on_before_optimizer_step(self, trainer, module, *args):
        self.record("on_before_optimizer_step", trainer, module, *args)

    def on_validation_end(self, trainer, module, *args):
        self.record("on_validation_end", trainer, module, *args)


class MonitoringRecorder(EarlyStopping):
    """A monitoring callback (Lightning calls some hooks on these apart from the others)."""

    def __init__(self, calls: list):
        super().__init__(monitor="valid_loss", strict=False, check_on_train_epoch_end=False)
        self.calls = calls

    def on_validation_end(self, trainer, module):
        self.calls.append(("MonitoringRecorder", "on_validation_end", module._current_fx_name, 0))
        super().on_validation_end(trainer, module)


def fit_boring(tmp_path, module: pl.LightningModule, profiler=None, batches: int = 3, callbacks=()) -> None:
    """Two short epochs of ``module``; checkpoints only from a ModelCheckpoint in ``callbacks``."""
    trainer = pl.Trainer(
        default_root_dir=tmp_path,
        max_epochs=2,
        limit_train_batches=batches,
        limit_val_batches=2,
        callbacks=list(callbacks),
        profiler=profiler or NoProfiler(),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
    )
    trainer.fit(module)


def hook_calls_and_profiled_names(tmp_path, dispatch) -> tuple[list, set]:
    calls = []
    on_instance = pl.Callback()  # a hook set on one callback object, not its class
    on_instance.on_train_batch_start = lambda trainer, module, *args: calls.append(
        ("instance", "on_train_batch_start", module._current_fx_name, len(args))
    )
    profiler = SimpleProfiler()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(call, "_call_callback_hooks", dispatch)
        callbacks = [Recorder(calls), on_instance, MonitoringRecorder(calls), ModelCheckpoint(tmp_path)]
        fit_boring(tmp_path, BoringModel(), profiler, callbacks=callbacks)
    return calls, {name for name in profiler.recorded_durations if name.startswith("[Callback]")}


def test_hooks_reach_the_callbacks_that_implement_them_as_lightning_calls_them(tmp_path):
    dispatch_callback_hooks_to_implementers()
    ours = call._call_callback_hooks
    lightnings = ours.lightnings
    assert list(inspect.signature(ours).parameters) == list(inspect.signature(lightnings).parameters)
    expected, lightning_names = hook_calls_and_profiled_names(tmp_path / "lightning", lightnings)
    got, names = hook_calls_and_profiled_names(tmp_path / "ours", ours)
    assert got == expected and len(got) > 20
    assert {hook for _, hook, _, _ in got} >= {"on_train_batch_start", "on_validation_end", "on_train_batch_end"}
    # profiled: Lightning's names, for the hooks a callback implements (the others are skipped)
    implemented = {"on_train_batch_end", "on_before_optimizer_step", "on_validation_end"}  # by Recorder
    assert "[Callback]Recorder.on_train_batch_end" in names and names < lightning_names
    skipped = {name.removeprefix("[Callback]Recorder.") for name in lightning_names - names if "Recorder." in name}
    assert "on_train_epoch_start" in skipped and not skipped & implemented  # no-ops only


class TakesNoBatchIndex(BoringModel):
    def training_step(self, batch):
        return super().training_step(batch, 0)

    def validation_step(self, batch):
        return super().validation_step(batch, 0)


def test_hook_signatures_are_read_once_and_answer_as_lightnings(tmp_path, monkeypatch):
    from pytorch_lightning.loops import evaluation_loop, prediction_loop, training_epoch_loop

    remember_hook_signatures()
    ours = training_epoch_loop.is_param_in_hook_signature
    assert evaluation_loop.is_param_in_hook_signature is ours and prediction_loop.is_param_in_hook_signature is ours
    lightnings = ours.lightnings

    def wrapped(self, batch, *args):
        return None

    wrapped.__wrapped__ = TakesNoBatchIndex.training_step  # a decorated hook: Lightning reads the original
    hooks = [BoringModel().training_step, TakesNoBatchIndex().training_step, wrapped, lambda self, x, *rest: None]
    for hook in hooks:
        for param, explicit, min_args in [
            ("batch_idx", False, 2),
            ("dataloader_iter", True, None),
            ("batch", False, None),
        ]:
            expected = lightnings(hook, param, explicit=explicit, min_args=min_args)
            assert ours(hook, param, explicit=explicit, min_args=min_args) == expected, (hook, param)

    def reads_in_a_fit(module, batches: int) -> int:
        reads = []
        with pytest.MonkeyPatch.context() as patch:
            getfullargspec = inspect.getfullargspec
            patch.setattr(inspect, "getfullargspec", lambda f: reads.append(f) or getfullargspec(f))
            fit_boring(tmp_path, module, batches=batches)
        return len(reads)

    for module in (TakesNoBatchIndex, BoringModel):  # each step gets batch_idx only where it takes one
        reads_in_a_fit(module(), batches=2)  # the first fit of a class reads its hooks once
        assert reads_in_a_fit(module(), batches=2) == reads_in_a_fit(module(), batches=6)  # none per step
    monkeypatch.setattr(training_epoch_loop, "is_param_in_hook_signature", lightnings)
    assert reads_in_a_fit(BoringModel(), batches=6) >= reads_in_a_fit(BoringModel(), batches=2) + 8  # Lightning's


def test_no_op_module_hooks_are_bases_that_do_nothing():
    import dis

    for name in NO_OP_MODULE_HOOKS:
        instructions = {i.opname for i in dis.get_instructions(getattr(pl.LightningModule, name))}
        assert instructions <= {"RESUME", "NOP", "LOAD_CONST", "RETURN_VALUE", "RETURN_CONST"}, name


class HookRecorder(BoringModel):
    """Overrides some of Lightning's no-op hooks and records them with the current hook name."""

    def __init__(self, calls: list):
        super().__init__()
        self.calls = calls

    def on_train_batch_start(self, batch, batch_idx):
        self.calls.append(("on_train_batch_start", self._current_fx_name))

    def on_after_backward(self):
        self.calls.append(("on_after_backward", self._current_fx_name))

    def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
        self.calls.append(("on_validation_batch_end", self._current_fx_name))

    def configure_optimizers(self):
        self.calls.append(("configure_optimizers", self._current_fx_name))
        return super().configure_optimizers()


def module_hook_calls(tmp_path, caller, profiler=None) -> tuple[list, int]:
    """Hook calls of a fit with ``caller`` as Lightning's module-hook caller, and how often a
    counted stand-in for Lightning's no-op ``on_before_zero_grad`` ran."""
    calls = []
    module = HookRecorder(calls)
    module.on_before_backward = lambda loss: calls.append(("instance", module._current_fx_name))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(call, "_call_lightning_module_hook", caller)
        fit_boring(tmp_path, module, profiler)
    return calls, module.base_calls


def test_module_hooks_lightning_leaves_empty_are_skipped_and_the_rest_called_as_lightning_does(tmp_path, monkeypatch):
    def on_before_zero_grad(self, optimizer):  # stands in for Lightning's empty hook, and counts its calls
        self.base_calls = getattr(self, "base_calls", 0) + 1

    monkeypatch.setattr(pl.LightningModule, "on_before_zero_grad", on_before_zero_grad)
    monkeypatch.setattr(HookRecorder, "base_calls", 0, raising=False)
    lightnings = getattr(call._call_lightning_module_hook, "lightnings", call._call_lightning_module_hook)
    ours = module_hook_caller(lightnings)
    assert list(inspect.signature(ours).parameters) == list(inspect.signature(lightnings).parameters)
    expected, lightnings_base_calls = module_hook_calls(tmp_path, lightnings)
    got, base_calls = module_hook_calls(tmp_path, ours)
    assert got == expected and len(got) > 15
    assert {hook for hook, _ in got} == {
        "on_train_batch_start",
        "on_after_backward",
        "on_validation_batch_end",
        "configure_optimizers",
        "instance",
    }
    assert lightnings_base_calls == 6 and base_calls == 0  # one a step with Lightning's; skipped with ours
    profiled, profiled_base_calls = module_hook_calls(tmp_path, ours, SimpleProfiler())
    assert profiled == expected and profiled_base_calls == 6  # profiling: every hook, by Lightning's caller
