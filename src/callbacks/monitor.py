"""The monitored metric (``monitor.metric``) must be one the module logs: checked at the first validation.

A module that declares what it logs (``logged_metrics``) is checked before training
(``src/run/build.py``); any other is checked here, when its first validation (not the sanity check)
has logged its names, so a misspelled ``val_acc`` fails in one line listing what was logged
rather than after hours of checkpoints that never save.
"""

from typing_extensions import override

from src.config.errors import ConfigError
from src.lightning_package import pl


class MonitorLogged(pl.Callback):
    """Raises a ConfigError naming ``monitor.metric`` when the first validation did not log ``metric``."""

    def __init__(self, metric: str):
        self.metric, self.checked = metric, False

    @override
    def on_validation_end(self, trainer, pl_module) -> None:
        if self.checked or trainer.sanity_checking:
            return
        self.checked = True
        logged = sorted(trainer.callback_metrics)
        if self.metric not in logged:
            raise ConfigError(
                "monitor.metric",
                f"{self.metric!r} was not logged by the first validation; it logged: {', '.join(logged) or 'nothing'}",
            )
