"""Every use of a library's private API, each in one small helper that says why.

No public API serves these needs (checked against hydra-core 1.3.8, pytorch-lightning 2.6.6,
torch 2.14); pyproject.toml bounds those versions, and tests/test_internals.py exercises each
helper, so an upgrade that moves one of them fails there, in one obvious place.
"""

import functools

from hydra.core.utils import JobReturn


def hydra_args_parser():
    """Hydra's own command-line parser, to read overrides exactly as Hydra will before it composes.

    Hydra exposes no public parser; re-implementing its argparse set-up would drift from it.
    """
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


def job_error(job_return: JobReturn) -> BaseException:
    """The exception a failed Hydra job raised.

    ``JobReturn.return_value`` (public) re-raises it and writes a line to stderr; this reads the
    stored exception without either.
    """
    return job_return._return_value


def tensorboard_file_writer(logger):
    """The event-file writer of a Lightning ``TensorBoardLogger``'s ``SummaryWriter``.

    Writing the HPARAMS summary into the run's own event file (not a sub-run, as the public
    ``SummaryWriter.add_hparams`` does, and without the zero-valued metric points the public
    ``TensorBoardLogger.log_hyperparams(params, metrics)`` logs) needs the writer itself.
    """
    return logger.experiment._get_file_writer()


def optuna_trial(storage_url: str, study, number: int):
    """A live ``optuna.Trial`` for trial ``number`` of ``study``, to report to and ask ``should_prune``.

    Optuna hands out live trials only from its own ``study.optimize`` and ``study.ask``, both in
    the process that owns the study; a Hydra job runs elsewhere and has only the stored trial.
    ``Trial(study, trial_id)`` is Optuna's internal constructor; the id comes from the storage's
    public lookup.
    """
    import optuna

    storage = optuna.storages.get_storage(storage_url)
    study_id = storage.get_study_id_from_name(study.study_name)
    return optuna.trial.Trial(study, storage.get_trial_id_from_study_id_trial_number(study_id, number))


class FastHookNames:
    """Mixin for a LightningModule: Lightning's ``_current_fx_name`` set without nn.Module's checks.

    Lightning sets this attribute (a str) around each of the ~40 hooks of a training step, and
    ``nn.Module.__setattr__`` spends ~1 us each looking for a parameter, module or buffer of that
    name. It is never one, so a plain object attribute is the same thing, at a fraction of a
    small model's step. Lightning offers no hook for this.
    """

    HOOK_NAME_ATTRIBUTE = "_current_fx_name"

    def __setattr__(self, name: str, value) -> None:
        if name == FastHookNames.HOOK_NAME_ATTRIBUTE:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


@functools.cache  # asked at each hook of each step: answered once per class
def class_overrides(cls: type, base: type, hook_name: str) -> bool:
    """Whether ``cls`` has a ``hook_name`` of its own rather than ``base``'s."""
    return getattr(cls, hook_name, None) is not getattr(base, hook_name, None)


def overrides(obj, base: type, hook_name: str) -> bool:
    """Whether ``obj``'s ``hook_name`` is its own (from its class, or set on the instance), not ``base``'s."""
    return class_overrides(type(obj), base, hook_name) or hook_name in getattr(obj, "__dict__", ())


def dispatch_callback_hooks_to_implementers() -> None:
    """Make Lightning call a callback hook only on the callbacks that implement it (once per process).

    Lightning's ``_call_callback_hooks`` calls each of the six hooks of a training step on every
    callback, implemented or not (the base ``Callback``'s are no-ops), and names each call for the
    profiler from ``callback.state_key``, which ``ModelCheckpoint`` and ``EarlyStopping`` build
    from a ``repr`` of their settings on every call: with the default callbacks ~50 calls a step
    that do nothing, ~4% of a palindrome RNN's step on a 2-core CPU. This replacement does what
    Lightning's does (same hooks in the same order, the same ``monitoring_callbacks`` selection,
    the module's current hook name, Lightning's profiler names), but skips a callback whose hook
    is ``Callback``'s own, and builds the profiler name only when a profiler records it (not
    ``NoProfiler``). Lightning offers no public way; the loops look the function up on its module
    at each call, so replacing it there is enough. tests/test_internals.py checks that a run's
    hook calls and profiler names are the same as with Lightning's own.
    """
    from pytorch_lightning.callbacks import Callback, Checkpoint, EarlyStopping
    from pytorch_lightning.trainer import call

    from src.utils.profiling import NoProfiler

    if getattr(call._call_callback_hooks, "implementers_only", False):
        return

    def _call_callback_hooks(trainer, hook_name: str, *args, monitoring_callbacks: bool | None = None, **kwargs):
        pl_module = trainer.lightning_module
        if pl_module:
            previous_fx_name = pl_module._current_fx_name
            pl_module._current_fx_name = hook_name
        callbacks = trainer.callbacks
        if monitoring_callbacks is True:
            callbacks = [cb for cb in callbacks if isinstance(cb, (EarlyStopping, Checkpoint))]
        elif monitoring_callbacks is False:
            callbacks = [cb for cb in callbacks if not isinstance(cb, (EarlyStopping, Checkpoint))]
        profiler = trainer.profiler
        named = not isinstance(profiler, NoProfiler)
        for callback in callbacks:
            if not overrides(callback, Callback, hook_name):
                continue
            fn = getattr(callback, hook_name)
            if callable(fn):
                with profiler.profile(f"[Callback]{callback.state_key}.{hook_name}" if named else hook_name):
                    fn(trainer, trainer.lightning_module, *args, **kwargs)
        if pl_module:
            pl_module._current_fx_name = previous_fx_name  # restore it when hooks nest

    _call_callback_hooks.implementers_only = True
    _call_callback_hooks.lightnings = call._call_callback_hooks
    call._call_callback_hooks = _call_callback_hooks


def remember_hook_signatures() -> None:
    """Make Lightning read a step hook's signature once per function, not before every batch (once per process).

    Before each training step Lightning asks whether ``training_step`` takes ``batch_idx``
    (``is_param_in_hook_signature``, which runs ``inspect.getfullargspec``), and the evaluation
    and prediction loops ask the same of their step per batch: ~20 us a step, ~1% of a palindrome
    RNN's step on a 2-core CPU. A function's parameters never change, so the answer is kept per
    function (a bound method's ``__func__``: a hook assigned on an instance is another function and
    is read afresh). The loops use the name they imported, so it is replaced in each of them.
    tests/test_internals.py checks the answers against Lightning's and that a fit reads each once.
    """
    from pytorch_lightning.loops import evaluation_loop, prediction_loop, training_epoch_loop

    if getattr(training_epoch_loop.is_param_in_hook_signature, "remembers", False):
        return
    lightnings = training_epoch_loop.is_param_in_hook_signature

    @functools.cache
    def answer(function, param: str, explicit: bool, min_args: int | None) -> bool:
        return lightnings(function, param, explicit=explicit, min_args=min_args)

    def is_param_in_hook_signature(hook_fx, param: str, explicit: bool = False, min_args: int | None = None) -> bool:
        function = getattr(hook_fx, "__func__", hook_fx)  # self is in both signatures: Lightning skips it
        try:
            return answer(function, param, explicit, min_args)
        except TypeError:  # an unhashable callable: asked afresh, as Lightning does
            return lightnings(hook_fx, param, explicit=explicit, min_args=min_args)

    is_param_in_hook_signature.remembers = True
    is_param_in_hook_signature.lightnings = lightnings
    for loop in (training_epoch_loop, evaluation_loop, prediction_loop):
        loop.is_param_in_hook_signature = is_param_in_hook_signature


# LightningModule hooks called at every batch whose base implementation does nothing;
# tests/test_internals.py checks that each base is still an empty function.
NO_OP_MODULE_HOOKS = (
    "on_train_batch_start",
    "on_train_batch_end",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_before_zero_grad",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_test_batch_start",
    "on_test_batch_end",
    "on_predict_batch_start",
    "on_predict_batch_end",
)


def skip_no_op_module_hooks() -> None:
    """Make Lightning skip a LightningModule hook the module leaves to Lightning's no-op (once per process).

    Lightning's ``_call_lightning_module_hook`` runs six hooks a training step that a module
    rarely overrides (``on_train_batch_start``, ``on_before_backward``, ...; Lightning's own are
    empty), each with a debug message and a profiler name formatted whether or not anyone reads
    them: ~25 us a step, ~1% of a palindrome RNN's step on a 2-core CPU. This replacement returns
    at once for a hook of ``NO_OP_MODULE_HOOKS`` that neither the module's class nor the instance
    overrides, formats the debug message only when debug logging is on, and otherwise does what
    Lightning's does (the module's current hook name set and restored around the call). With a
    profiler other than ``NoProfiler`` it hands every call to Lightning's, so profiles stay whole.
    The loops look the function up on Lightning's module at each call, so replacing it there is
    enough. tests/test_internals.py checks a fit's module hook calls against Lightning's.
    """
    from pytorch_lightning.trainer import call

    if not getattr(call._call_lightning_module_hook, "skips_no_ops", False):
        call._call_lightning_module_hook = module_hook_caller(call._call_lightning_module_hook)


def module_hook_caller(lightnings):
    """``skip_no_op_module_hooks``'s replacement for ``lightnings`` (Lightning's ``_call_lightning_module_hook``)."""
    import logging

    from pytorch_lightning import LightningModule
    from pytorch_lightning.trainer import call

    from src.utils.profiling import NoProfiler

    no_ops = frozenset(NO_OP_MODULE_HOOKS)

    def _call_lightning_module_hook(trainer, hook_name: str, *args, pl_module=None, **kwargs):
        pl_module = pl_module or trainer.lightning_module
        if pl_module is None or not isinstance(trainer.profiler, NoProfiler):
            return lightnings(trainer, hook_name, *args, pl_module=pl_module, **kwargs)
        if hook_name in no_ops and not overrides(pl_module, LightningModule, hook_name):
            return None
        if call.log.isEnabledFor(logging.DEBUG):
            call.log.debug(f"{trainer.__class__.__name__}: calling lightning module hook: {hook_name}")
        fn = getattr(pl_module, hook_name)
        if not callable(fn):
            return None
        previous_fx_name = pl_module._current_fx_name
        pl_module._current_fx_name = hook_name
        output = fn(*args, **kwargs)
        pl_module._current_fx_name = previous_fx_name  # restore it when hooks nest
        return output

    _call_lightning_module_hook.skips_no_ops = True
    _call_lightning_module_hook.lightnings = lightnings
    return _call_lightning_module_hook


def lighten_lightning_loops() -> None:
    """All of this module's per-step savings in Lightning's loops (each once per process): callback
    hooks only to their implementers, hook signatures read once, no calls of a module's no-op hooks."""
    dispatch_callback_hooks_to_implementers()
    remember_hook_signatures()
    skip_no_op_module_hooks()
