"""Test-only Lightning callbacks and TensorBoard readers."""

from pathlib import Path

import pytorch_lightning as pl
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from src.report import runs


class CrashAtStep(pl.Callback):
    """Raises as if the process were killed, right after training step ``step``."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError(f"simulated crash at step {self.step}")


def read_scalars(run_dir: Path) -> dict[str, list[float]]:
    """Every scalar tag in the TensorBoard events of ``run_dir`` -> its values in step order."""
    return {tag: [value for _, value in points] for tag, points in runs.read_scalars(run_dir).items()}


def hparams_metric_tags(run_dir: Path) -> list[str]:
    """The metric columns the run declares for TensorBoard's HPARAMS tab."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(run_dir))
    events.Reload()
    content = events.PluginTagToContent("hparams")["_hparams_/experiment"]
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    return [info.name.tag for info in data.experiment.metric_infos]


class KillDuringSave(pl.Callback):
    """Kills its own process (SIGKILL) half-way through writing checkpoint number ``at_save``."""

    def __init__(self, at_save: int):
        self.at_save, self.saves = at_save, 0

    def on_train_start(self, trainer, pl_module) -> None:
        import os
        import signal

        import torch

        original = torch.save

        def save(obj, file, *args, **kwargs):
            self.saves += 1
            if self.saves == self.at_save:
                file.write(b"the first bytes of a checkpoint")
                file.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            return original(obj, file, *args, **kwargs)

        torch.save = save


class CountSamples(pl.Callback):
    """Writes how many training samples this rank saw in each epoch to ``samples_rank{R}.txt`` in ``folder``."""

    def __init__(self, folder: str):
        self.folder, self.seen = Path(folder), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.seen += len(batch[1])

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        with open(self.folder / f"samples_rank{trainer.global_rank}.txt", "a") as file:
            file.write(f"{self.seen}\n")
        self.seen = 0


class FullDisk(pl.Callback):
    """Fails a write as a full disk does (ENOSPC), after training step ``step``."""

    def __init__(self, step: int = 2):
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            import errno
            import os

            path = Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def claim_sweep(args: list[str], cwd: Path) -> Path:
    """What ``python train.py -m ARGS`` in ``cwd`` does before its first job: read, check, claim the sweep's
    folder (held by this process until ``src.run.folder.release_folder``); that folder."""
    import os

    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from src.app.command import read_command
    from src.app.preflight import check_command
    from src.sweeps.folder import claim_sweep_folder

    before = Path.cwd()
    os.chdir(cwd)
    try:
        command = read_command(args)
        folder = check_command(command)
        claim_sweep_folder(folder, command.cfg)
        return folder
    finally:
        os.chdir(before)
        HydraConfig.instance().cfg = None
        GlobalHydra.instance().clear()


def set_up(args: list[str], cwd: Path):
    """What ``python train.py ARGS`` in ``cwd`` does before Hydra's job writes anything: read, check, and set
    its run up (checked, resumed, built, its folder claimed); that run. Refusals raise their ConfigError."""
    import os

    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    import train
    from src.app.command import read_command
    from src.app.launch import origin_of, task_config
    from src.app.preflight import check_command

    before = Path.cwd()
    os.chdir(cwd)
    try:
        command = read_command(args)
        check_command(command)
        run = train.make_run(task_config(command.cfg), origin_of(command.cfg.hydra, "train.py", in_sweep=False))
        run.setup()
        return run
    finally:
        os.chdir(before)
        HydraConfig.instance().cfg = None
        GlobalHydra.instance().clear()
