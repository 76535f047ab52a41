"""The vanilla RNN with the hand-written cell of EXPERIMENTS.md Part III (not ``torch.nn.RNN``)."""

import math
from typing import ClassVar

import torch
from torch import nn

from src.utils.validation import check_choice, check_int


class VanillaRNN(nn.Module):
    """``h_t = tanh(W_hx x_t + W_hh h_{t-1} + b_h)``, ``o = W_ph h_T + b_o``, with ``h_0 = 0``.

    Returns the logits of the last step only; gradients flow back through all steps (BPTT).
    Parameters are initialised like ``torch.nn.RNN``: uniform in ``±1/sqrt(hidden_dim)``.
    """

    def __init__(self, input_dim: int, hidden_dim: int, num_classes: int):
        super().__init__()
        check_int("input_dim", input_dim)
        check_int("hidden_dim", hidden_dim)
        check_int("num_classes", num_classes, minimum=2)
        self.W_hx = nn.Parameter(torch.empty(hidden_dim, input_dim))
        self.W_hh = nn.Parameter(torch.empty(hidden_dim, hidden_dim))
        self.b_h = nn.Parameter(torch.empty(hidden_dim))
        self.W_ph = nn.Parameter(torch.empty(num_classes, hidden_dim))
        self.b_o = nn.Parameter(torch.empty(num_classes))
        bound = 1 / math.sqrt(hidden_dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, steps, input_dim)`` -> logits ``(batch, num_classes)``.

        The same equations, arranged so a step does no avoidable work: the input projection of
        every step is one matrix product before the recurrence, and its steps are taken with
        ``unbind`` rather than indexed one by one, whose backward would zero-fill a whole
        (batch, steps, hidden) gradient for each step (46% of an eager training step at length 19).
        """
        drive = torch.addmm(self.b_h, x.flatten(0, 1), self.W_hx.T).view(*x.shape[:2], -1)  # (B, T, H)
        h = torch.zeros(x.shape[0], self.W_hh.shape[0], dtype=x.dtype, device=x.device)  # (B, H)
        recurrent = self.W_hh.T
        for drive_t in drive.unbind(1):  # (B, H) each
            h = torch.tanh(torch.addmm(drive_t, h, recurrent))
        return torch.addmm(self.b_o, h, self.W_ph.T)


class TorchRecurrent(nn.Module):
    """A baseline built on ``torch.nn.LSTM`` or ``torch.nn.GRU``: last hidden state -> linear -> logits."""

    CELLS: ClassVar[dict[str, type[nn.RNNBase]]] = {"lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, cell: str, input_dim: int, hidden_dim: int, num_classes: int, num_layers: int = 1):
        super().__init__()
        check_choice("cell", cell, self.CELLS)
        self.recurrent = self.CELLS[cell](
            check_int("input_dim", input_dim),
            check_int("hidden_dim", hidden_dim),
            num_layers=check_int("num_layers", num_layers),
            batch_first=True,
        )
        self.output = nn.Linear(hidden_dim, check_int("num_classes", num_classes, minimum=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, steps, input_dim)`` -> logits of the last step ``(batch, num_classes)``."""
        outputs, _ = self.recurrent(x)
        return self.output(outputs[:, -1])
