"""The metric tags every run logs: one list, for the module, the callbacks, the checks and the report.

No torch here: the config checks use these before anything heavy is imported.
"""

SPLITS = ("train", "val", "test")
# What a run's results are: the HPARAMS columns, the report's table, in this order.
RESULT_TAGS = ("val/acc_best", "val/acc", "val/loss", "test/acc", "test/loss")
# Every scalar a run logs (the curriculum adds curriculum/length and val/stage_acc).
EPOCH_TAGS = ("train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best", "test/loss", "test/acc")
STEP_TAGS = ("train/loss_step", "train/acc_step")
CURRICULUM_TAGS = ("curriculum/length", "val/stage_acc")  # logged by the palindrome length curriculum
MONITORABLE_TAGS = EPOCH_TAGS + CURRICULUM_TAGS  # what early stopping, checkpoints and sweepers may watch


def tag(split: str, name: str) -> str:
    """``tag("val", "acc")`` -> ``"val/acc"``: the TensorBoard tag of a split's metric."""
    return f"{split}/{name}"
