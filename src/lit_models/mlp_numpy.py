"""The MLP written by hand in NumPy (forward, backward, SGD update), trained through Lightning.

``NumpyMLP`` does all of its maths in NumPy: no autograd, no torch. It starts from the weights
of a freshly built PyTorch ``MLP``, so with the same seed both start identical. ``NumpyClassifier``
runs it inside the same Lightning loop, datamodule and metrics as the PyTorch model: its
parameters are shared-memory tensor views (so checkpoints hold them), and its SGD update is
wrapped as a ``torch.optim.Optimizer`` only so Lightning counts steps.
"""
import functools

import numpy as np
import torch
from torch import nn

from src.errors import ConfigError
from src.lit_models.classifier import Classifier
from src.lit_models.mlp import MLP


class NumpyMLP:
    """Linear/ReLU layers with softmax cross-entropy, forward and backward in NumPy."""

    def __init__(self, input_dim: int, hidden_units, num_classes: int, dtype: str = "float32"):
        reference = MLP(input_dim, hidden_units, num_classes)  # the initial weights, and arg checks
        self.hidden_units = reference.hidden_units
        self.weights = [layer.weight.detach().numpy().T.astype(dtype).copy() for layer in reference.linears()]
        self.biases = [layer.bias.detach().numpy().astype(dtype).copy() for layer in reference.linears()]

    def parameters(self) -> list[np.ndarray]:
        return [p for pair in zip(self.weights, self.biases) for p in pair]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Logits, and every layer's input (kept for the backward pass)."""
        inputs = [x.reshape(len(x), -1).astype(self.weights[0].dtype, copy=False)]
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            inputs.append(np.maximum(inputs[-1] @ w + b, 0))
        return inputs[-1] @ self.weights[-1] + self.biases[-1], inputs

    @staticmethod
    def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean softmax cross-entropy and its gradient with respect to the logits."""
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        rows = np.arange(len(y))
        grad = np.exp(log_probs)
        grad[rows, y] -= 1
        return float(-log_probs[rows, y].mean()), grad / len(y)

    def backward(self, grad_logits: np.ndarray, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Gradients of the loss, in the order of ``parameters()``."""
        grads: list[np.ndarray] = []
        grad = grad_logits
        for layer in reversed(range(len(self.weights))):
            grads[:0] = [inputs[layer].T @ grad, grad.sum(axis=0)]
            if layer:
                grad = (grad @ self.weights[layer].T) * (inputs[layer] > 0)
        return grads

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, list[np.ndarray]]:
        logits, inputs = self.forward(x)
        loss, grad_logits = self.cross_entropy(logits, y)
        return loss, logits, self.backward(grad_logits, inputs)

    def sgd_step(self, grads: list[np.ndarray], lr: float) -> None:
        for parameter, grad in zip(self.parameters(), grads):
            parameter -= lr * grad


class NumpySGD(torch.optim.Optimizer):
    """Applies the NumPy MLP's hand-written SGD update when Lightning steps the optimizer."""

    def __init__(self, net: NumpyMLP, params, lr: float):
        super().__init__(params, {"lr": lr})
        self.net, self.grads = net, None

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        self.net.sgd_step(self.grads, self.param_groups[0]["lr"])
        return loss


def sgd_learning_rate(optimizer) -> float:
    """The lr of an ``optimizer=sgd`` partial; anything the NumPy SGD does not implement is an error."""
    func = getattr(optimizer, "func", None)
    kwargs = getattr(optimizer, "keywords", {})
    unsupported = {k: v for k, v in kwargs.items() if k in ("momentum", "weight_decay", "dampening") and v}
    if func is not torch.optim.SGD or unsupported or kwargs.get("nesterov"):
        name = getattr(func, "__name__", optimizer)
        raise ConfigError("optimizer", f"model=mlp_numpy implements plain SGD only (optimizer=sgd, momentum 0, "
                          f"weight_decay 0); got {name} {unsupported or ''}".rstrip())
    return kwargs["lr"]


class NumpyClassifier(Classifier):
    """The Classifier's metrics and logging around a ``NumpyMLP`` trained by its own SGD."""

    def __init__(self, net: NumpyMLP, optimizer, channels_last: bool = False, scheduler=None):
        if channels_last or scheduler is not None:
            raise ConfigError("channels_last" if channels_last else "scheduler",
                              "is not implemented by the NumPy MLP (plain SGD at a fixed learning rate)")
        lr = sgd_learning_rate(optimizer)
        super().__init__(nn.Identity(), functools.partial(NumpySGD, lr=lr))
        self.automatic_optimization = False
        self.numpy_net = net
        self.params = nn.ParameterList(nn.Parameter(torch.from_numpy(p), requires_grad=False)
                                       for p in net.parameters())  # views: checkpoints hold the NumPy weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.numpy_net.forward(x.cpu().numpy())[0])

    def numpy_step(self, batch, split: str, train: bool = False) -> None:
        x, y = batch
        loss, logits, grads = self.numpy_net.loss_and_grads(x.cpu().numpy(), y.cpu().numpy())
        if train:
            optimizer = self.optimizers()
            optimizer.optimizer.grads = grads
            optimizer.step()
        self.metrics[split + "_"].update(torch.tensor(loss), torch.from_numpy(logits), y.cpu())

    def training_step(self, batch, batch_idx: int) -> None:
        self.numpy_step(batch, "train", train=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        self.numpy_step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self.numpy_step(batch, "test")

    def configure_optimizers(self):
        return self.optimizer_factory(self.numpy_net, self.params.parameters())
