"""The multi-layer perceptron of docs/experiments.md 1: Linear/ReLU layers over flattened inputs."""

from collections.abc import Sequence

from torch import nn

from src.config.errors import ConfigError, check_int


def parse_hidden_units(value) -> list[int]:
    """``'512,256,128'``, ``[512, 256, 128]`` or ``20`` -> a list of positive ints (``''`` -> none)."""
    problem = f"must be positive integers as a list or a comma-separated string like '512,256,128', got {value!r}"
    if isinstance(value, str):
        items = [] if not value.strip() else [item.strip() for item in value.split(",")]
        if not all(item.isdigit() for item in items):
            raise ConfigError("hidden_units", problem)
        units = [int(item) for item in items]
    elif isinstance(value, int) and not isinstance(value, bool):
        units = [value]
    elif isinstance(value, Sequence):
        units = list(value)
    else:
        raise ConfigError("hidden_units", problem)
    if not all(isinstance(u, int) and not isinstance(u, bool) and u > 0 for u in units):
        raise ConfigError("hidden_units", problem)
    return units


class MLP(nn.Sequential):
    """``Flatten -> [Linear -> ReLU] * len(hidden_units) -> Linear`` to class logits."""

    def __init__(self, input_dim: int, hidden_units, num_classes: int):
        check_int("input_dim", input_dim)
        check_int("num_classes", num_classes, minimum=2)
        self.hidden_units = parse_hidden_units(hidden_units)
        widths = [input_dim, *self.hidden_units]
        layers: list[nn.Module] = [nn.Flatten()]
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], num_classes))
        super().__init__(*layers)

    def linears(self) -> list[nn.Linear]:
        return [layer for layer in self if isinstance(layer, nn.Linear)]
