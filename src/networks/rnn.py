"""The vanilla RNN with the hand-written cell of docs/experiments.md 3 (not ``torch.nn.RNN``)."""

import math
from typing import ClassVar

import torch
from torch import nn

from src.config.errors import ConfigError, check_choice, check_int, is_number

RECURRENT_INITS = ("uniform", "orthogonal", "identity")


class VanillaRNN(nn.Module):
    """``h_t = tanh(W_hx x_t + W_hh h_{t-1} + b_h)``, ``o = W_ph h_T + b_o``, with ``h_0 = 0``.

    Returns the logits of the last step only; gradients flow back through all steps (BPTT).
    Parameters are initialised like ``torch.nn.RNN``: uniform in ``±1/sqrt(hidden_dim)``;
    ``recurrent_init`` may start ``W_hh`` instead as a random orthogonal matrix or the identity,
    times ``recurrent_gain`` (both keep a state's length through the first steps, where the
    uniform start shrinks it).
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        num_classes: int,
        recurrent_init: str = "uniform",
        recurrent_gain: float = 1.0,
    ):
        super().__init__()
        check_int("input_dim", input_dim)
        check_int("hidden_dim", hidden_dim)
        check_int("num_classes", num_classes, minimum=2)
        check_choice("recurrent_init", recurrent_init, RECURRENT_INITS)
        if not is_number(recurrent_gain) or not 0 < recurrent_gain < math.inf:
            raise ConfigError("recurrent_gain", f"must be a positive number, got {recurrent_gain!r}")
        if recurrent_init == "uniform" and recurrent_gain != 1:
            raise ConfigError("recurrent_gain", "scales an orthogonal or identity recurrent_init; uniform has none")
        self.W_hx = nn.Parameter(torch.empty(hidden_dim, input_dim))
        self.W_hh = nn.Parameter(torch.empty(hidden_dim, hidden_dim))
        self.b_h = nn.Parameter(torch.empty(hidden_dim))
        self.W_ph = nn.Parameter(torch.empty(num_classes, hidden_dim))
        self.b_o = nn.Parameter(torch.empty(num_classes))
        bound = 1 / math.sqrt(hidden_dim)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)
        with torch.no_grad():
            if recurrent_init == "orthogonal":
                nn.init.orthogonal_(self.W_hh, gain=recurrent_gain)
            elif recurrent_init == "identity":
                self.W_hh.copy_(recurrent_gain * torch.eye(hidden_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, steps, input_dim)`` -> logits ``(batch, num_classes)``.

        Eagerly the recurrence runs as ``Recurrence``, with its backward (BPTT) written out; under
        ``torch.compile`` or autocast it is left to autograd (``recur``), which the compiler fuses
        on its own and autocast casts op by op. Both compute the same equations.
        """
        if torch.compiler.is_compiling() or torch.is_autocast_enabled(x.device.type):
            h = self.recur(x)
        else:
            h = Recurrence.apply(x, self.W_hx, self.W_hh, self.b_h)
        return torch.addmm(self.b_o, h, self.W_ph.T)

    def recur(self, x: torch.Tensor) -> torch.Tensor:
        """``h_T`` through autograd, arranged so a step does no avoidable work.

        The input projection of every step is one matrix product before the recurrence, and its
        steps are taken with ``unbind`` rather than indexed one by one, whose backward would
        zero-fill a whole (batch, steps, hidden) gradient for each step.
        """
        drive = torch.addmm(self.b_h, x.flatten(0, 1), self.W_hx.T).view(*x.shape[:2], -1)  # (B, T, H)
        h = torch.zeros(x.shape[0], self.W_hh.shape[0], dtype=x.dtype, device=x.device)  # (B, H)
        recurrent = self.W_hh.T
        for drive_t in drive.unbind(1):  # (B, H) each
            h = torch.tanh(torch.addmm(drive_t, h, recurrent))
        return h


class Recurrence(torch.autograd.Function):
    """``h_T`` of ``h_t = tanh(W_hx x_t + W_hh h_{t-1} + b_h)``, ``h_0 = 0``, with BPTT written out.

    Autograd records three nodes a step and, going back, adds each step's ``W_hh`` gradient on
    its own and stacks the input gradients; written out, a step is one product and one
    elementwise op each way, into buffers made once, and the weight gradients are each one
    matrix product over all steps: 1.2x the training steps per second of ``recur`` on a 2-core
    CPU (length 19, hidden 128, batch 128). ``torch.compile`` would fuse the same, but does not
    pay for itself there (see the README). Checked against autograd by ``gradcheck`` in the tests.
    """

    @staticmethod
    def forward(ctx, x, W_hx, W_hh, b_h):
        batch, steps, _ = x.shape
        xs = x.transpose(0, 1).reshape(steps * batch, -1)  # time-major: step t is rows t*B..(t+1)*B
        hs = x.new_empty(steps + 1, batch, W_hh.shape[0])  # h_0 .. h_T
        h = hs.unbind(0)  # a view of each step, made in one call
        h[0].zero_()
        drives = hs[1:].view(steps * batch, -1)  # every step's drive at once, in place of h_1 .. h_T
        if xs.shape[1] == 1:  # scalar inputs: a rank-1 product, one broadcast pass (2x faster than a K=1 GEMM)
            torch.addcmul(b_h, xs, W_hx.T, out=drives)
        else:
            torch.addmm(b_h, xs, W_hx.T, out=drives)
        h[1].tanh_()  # h_0 = 0: the first step has no recurrent product
        recurrent = W_hh.T
        for previous, current in zip(h[1:-1], h[2:]):
            current.addmm_(previous, recurrent).tanh_()
        ctx.save_for_backward(xs, W_hx, W_hh, hs)
        return hs[steps].clone()

    @staticmethod
    def backward(ctx, grad_h):
        xs, W_hx, W_hh, hs = ctx.saved_tensors
        steps, hidden = hs.shape[0] - 1, hs.shape[2]
        # tanh' = 1 - h^2 per step in one pass, then (in place) the gradient before the tanh
        grad_a = torch.addcmul(hs.new_ones(()), hs[1:], hs[1:], value=-1)
        per_step = grad_a.unbind(0)
        for grad_a_t in per_step[:0:-1]:  # steps T .. 2: each passes its gradient to the step before
            grad_h = torch.mm(grad_a_t.mul_(grad_h), W_hh)
        per_step[0].mul_(grad_h)
        flat = grad_a.view(-1, hidden)
        grad_x = grad_W_hx = grad_W_hh = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.mm(flat, W_hx).view(steps, -1, W_hx.shape[1]).transpose(0, 1)
        if ctx.needs_input_grad[1]:
            grad_W_hx = torch.mm(xs.T, flat).T  # (x^T g)^T: MKL's fast layout for a thin xs (2x at one-hot)
        if ctx.needs_input_grad[2]:  # h_0 = 0 adds nothing: steps 2..T against h_1..h_{T-1}
            grad_W_hh = torch.mm(grad_a[1:].view(-1, hidden).T, hs[1:steps].reshape(-1, hidden))
        if ctx.needs_input_grad[3]:
            grad_b = flat.sum(0)
        return grad_x, grad_W_hx, grad_W_hh, grad_b


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
