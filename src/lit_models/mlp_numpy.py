"""The MLP experiment's own LightningModule: trains the NumPy MLP inside the same Lightning loop.

``NumpyMLPClassifier`` keeps the Classifier's metrics and logging and replaces only its step:
the forward and backward passes and the SGD update are the ``NumpyMLP``'s own. Its parameters
are shared-memory tensor views (so checkpoints hold them), and its SGD update is wrapped as a
``torch.optim.Optimizer`` only so Lightning counts steps.
"""

import functools

import torch
from torch import nn
from typing_extensions import override

from src.config.errors import ConfigError
from src.lit_models.classifier import Classifier
from src.networks.mlp_numpy import NumpyMLP


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
        raise ConfigError(
            "optimizer",
            f"model=mlp_numpy implements plain SGD only (optimizer=sgd, momentum 0, "
            f"weight_decay 0); got {name} {unsupported or ''}".rstrip(),
            full_key=True,  # the optimizer group, not an argument of the module
        )
    return kwargs["lr"]


class NumpyMLPClassifier(Classifier):
    """The Classifier's metrics and logging around a ``NumpyMLP`` trained by its own SGD."""

    def __init__(
        self,
        net: NumpyMLP,
        optimizer,
        scheduler=None,
        compile: bool = False,
        compile_mode: str = "default",
        label_smoothing: float = 0.0,
        compile_backend: str = "inductor",
        scheduler_interval: str = "epoch",
    ):
        if label_smoothing:
            raise ConfigError("label_smoothing", "is not implemented by the NumPy MLP's hand-written loss")
        if compile:
            raise ConfigError("compile", "model=mlp_numpy is NumPy, not a torch network: it cannot be compiled")
        if scheduler is not None:
            raise ConfigError("scheduler", "is not implemented by the NumPy MLP (plain SGD at a fixed learning rate)")
        lr = sgd_learning_rate(optimizer)
        super().__init__(nn.Identity(), functools.partial(NumpySGD, lr=lr))
        self.automatic_optimization = False
        self.numpy_net = net
        self.params = nn.ParameterList(  # views: checkpoints hold the NumPy weights
            nn.Parameter(torch.from_numpy(p), requires_grad=False) for p in net.parameters()
        )

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.numpy_net.forward(x.cpu().numpy())[0])

    @override
    def eager_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    @override
    def step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        loss, logits, grads = self.numpy_net.loss_and_grads(x.cpu().numpy(), y.cpu().numpy())
        if split == "train":
            optimizer = self.optimizers()
            optimizer.optimizer.grads = grads
            optimizer.step()
        loss, logits = torch.tensor(loss), torch.from_numpy(logits)
        self.record(split, loss, logits, y.cpu())
        return loss

    @override
    def configure_optimizers(self):
        return self.optimizer_factory(self.numpy_net, self.params.parameters())
