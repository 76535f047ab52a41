"""Lightning callback: each run says what produced it (``src.records.provenance``), in its folder and hparams."""

from pathlib import Path

import torch
from typing_extensions import override

from src.lightning_package import pl
from src.records.provenance import cpu_name, now, provenance, read_provenance, write_provenance


def device_of(trainer) -> dict:
    """The accelerator the run trains on: its name, how many this run uses, the kind."""
    root = trainer.strategy.root_device
    if root.type == "cuda":
        return {"kind": "cuda", "name": torch.cuda.get_device_name(root), "count": trainer.num_devices}
    if root.type == "mps":
        return {"kind": "mps", "name": "Apple MPS", "count": 1}
    return {
        "kind": "cpu",
        "name": f"CPU: {cpu_name()}",
        "count": trainer.num_devices,
        "threads": torch.get_num_threads(),
    }


class Provenance(pl.Callback):
    """Writes ``provenance.json`` when fitting starts and again, with the end time, when the run is torn
    down; on global rank 0 only. A resumed run keeps the records of the runs it continues (``earlier``)."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.record: dict | None = None

    def record_for(self, trainer) -> dict:
        """This run's record, written into its folder the first time it is asked for."""
        if self.record is None:
            self.record = provenance(device_of(trainer), started=now())
            if (before := read_provenance(self.run_dir)) is not None:
                self.record["earlier"] = [
                    {k: v for k, v in before.items() if k != "earlier"},
                    *before.get("earlier", []),
                ]
            write_provenance(self.run_dir, self.record)
        return self.record

    @override
    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.record_for(trainer)

    @override
    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self.record is not None and trainer.is_global_zero:
            self.record["ended"] = now()
            write_provenance(self.run_dir, self.record)
