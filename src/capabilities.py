"""What a module or datamodule may offer beyond Lightning's own contract, each a row of the table in
docs/bring-your-own.md (its docstring: what to offer, then what it adds; a test keeps the two equal).
The framework asks for none of them: each one missing turns its feature off, and ``offers`` is the
one way a capability is looked for.
"""

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class DeclaresLoggedMetrics(Protocol):
    """module attribute `logged_metrics` (the names it logs):
    `monitor.metric` and every watched name checked before training instead of at the first validation
    """

    logged_metrics: Sequence[str]


@runtime_checkable
class ForwardsEagerly(Protocol):
    """module method `eager_forward(x)`:
    the forward pass before training runs uncompiled (a compiled network would compile for one batch)
    """

    def eager_forward(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class ChecksItsScheduler(Protocol):
    """module method `check_scheduler()`:
    its LR scheduler's arguments judged before training (torch judges them only when fit configures the
    optimizers)
    """

    def check_scheduler(self) -> None: ...


@runtime_checkable
class CountsTestConfusion(Protocol):
    """module attribute `test_confusion_matrix` and datamodule `class_names`:
    the report's confusion-matrix figure
    """

    test_confusion_matrix: torch.Tensor | None


@runtime_checkable
class NamesClasses(Protocol):
    """datamodule attribute `class_names`:
    names the confusion matrix's rows and columns
    """

    class_names: Sequence[str]


@runtime_checkable
class GivesExampleBatches(Protocol):
    """datamodule method `example_batch(n)` -> `(inputs, labels)`:
    one forward pass before training: a network that cannot take the data fails in one line
    """

    def example_batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]: ...


@runtime_checkable
class CountsClasses(Protocol):
    """datamodule attribute `num_classes`:
    that forward pass also checks the output's shape
    """

    num_classes: int


@runtime_checkable
class NeedsCallbacks(Protocol):
    """datamodule method `extra_callbacks()`:
    callbacks the data needs during training (the palindrome curriculum)
    """

    def extra_callbacks(self) -> list[Any]: ...


@runtime_checkable
class GivesClassLogits(Protocol):
    """module attribute `gives_class_logits = True`:
    `eval.py predict=...` shows each input's most probable classes with their probabilities (otherwise the
    module's outputs, as values)
    """

    gives_class_logits: bool


@runtime_checkable
class TakesTypedInputs(Protocol):
    """datamodule method `prediction_inputs(tensor)`:
    `eval.py predict=...` turns typed inputs into what the network takes (otherwise they go as given)
    """

    def prediction_inputs(self, raw: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class KeepsSplits(Protocol):
    """datamodule attribute `splits` (`{"test": (inputs, labels)}`) of points in a plane:
    the report's decision-boundary figure
    """

    splits: dict[str, Any]


CAPABILITIES = (
    DeclaresLoggedMetrics,
    ForwardsEagerly,
    ChecksItsScheduler,
    CountsTestConfusion,
    NamesClasses,
    GivesExampleBatches,
    CountsClasses,
    NeedsCallbacks,
    GivesClassLogits,
    TakesTypedInputs,
    KeepsSplits,
)


def offers(obj: Any, capability: type) -> bool:
    """Whether ``obj`` (a module, a datamodule) offers ``capability``, one of ``CAPABILITIES``."""
    return isinstance(obj, capability)
