"""A user's own Lightning code, in the shapes Lightning code comes in, knowing nothing of this project: a
datamodule of torch DataLoaders over TensorDatasets, a classifier that takes ``net`` and an optimizer
partial and saves both as hyperparameters, an autoencoder that builds its own network and optimizer and
logs only ``val_loss``, a regressor whose metrics are named ``loss/train``, ``loss/val``, and a GAN with
two optimizers stepped by hand that returns nothing from its training step. (Lightning's own demo
classes, ``BoringModel`` and ``DemoModel``, are used as they come: tests/byo/conf/model/.)"""

from collections.abc import Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split


class TensorDataModule(pl.LightningDataModule):
    """Points in ``n_features`` dimensions, labelled by the largest of ``n_classes`` fixed projections."""

    def __init__(self, n_samples: int = 600, n_features: int = 8, n_classes: int = 3, batch_size: int = 32,
                 seed: int = 0):  # fmt: skip
        super().__init__()
        self.save_hyperparameters()
        self.train_set = self.val_set = self.test_set = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        generator = torch.Generator().manual_seed(self.hparams.seed)
        x = torch.randn(self.hparams.n_samples, self.hparams.n_features, generator=generator)
        y = (x @ torch.randn(self.hparams.n_features, self.hparams.n_classes, generator=generator)).argmax(-1)
        parts = [int(0.7 * len(x)), int(0.15 * len(x))]
        parts.append(len(x) - sum(parts))
        self.train_set, self.val_set, self.test_set = random_split(TensorDataset(x, y), parts, generator=generator)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.hparams.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=self.hparams.batch_size)


class SimpleDenseNet(nn.Module):
    def __init__(self, input_size: int = 8, hidden_size: int = 32, output_size: int = 3):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(input_size, hidden_size), nn.BatchNorm1d(hidden_size), nn.ReLU(),
            nn.Linear(hidden_size, output_size),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class DenseClassifier(pl.LightningModule):
    def __init__(self, net: nn.Module, optimizer: Callable, scheduler: Callable | None = None):
        super().__init__()
        self.save_hyperparameters(logger=False)  # the network and the optimizer partial too
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.log(f"{split}_loss", loss, on_epoch=True, on_step=split == "train")
        self.log(f"{split}_acc", (logits.argmax(-1) == y).float().mean(), on_epoch=True, on_step=False)
        return loss

    def training_step(self, batch, batch_idx):
        return self.step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self.step(batch, "val")

    def test_step(self, batch, batch_idx):
        self.step(batch, "test")

    def configure_optimizers(self):
        optimizer = self.hparams.optimizer(params=self.parameters())
        if self.hparams.scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.hparams.scheduler(optimizer=optimizer)}


class Autoencoder(pl.LightningModule):
    def __init__(self, n_features: int = 8, code_size: int = 3, lr: float = 1e-2):
        super().__init__()
        self.save_hyperparameters()
        self.encoder = nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, code_size))
        self.decoder = nn.Sequential(nn.Linear(code_size, 16), nn.ReLU(), nn.Linear(16, n_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def step(self, batch, split: str) -> torch.Tensor:
        x, _ = batch
        loss = F.mse_loss(self(x), x)
        self.log(f"{split}_loss", loss, on_epoch=True, on_step=False)
        return loss

    def training_step(self, batch, batch_idx):
        return self.step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self.step(batch, "val")

    def test_step(self, batch, batch_idx):
        self.step(batch, "test")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class DownloadingDataModule(TensorDataModule):
    """A datamodule whose constructor fetches its data, here from a server that cannot be reached."""

    def __init__(self, url: str = "http://127.0.0.1:9/data.tar", batch_size: int = 64):
        super().__init__(batch_size=batch_size)
        raise RuntimeError(f"Error downloading {url}: connection refused")


class Regressor(pl.LightningModule):
    """Predicts the sum of a point's features; its metrics are named ``loss/<split>``."""

    def __init__(self, n_features: int = 8, lr: float = 0.01):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def step(self, batch, split: str) -> torch.Tensor:
        x, _ = batch
        loss = F.mse_loss(self(x), x.sum(-1))
        self.log(f"loss/{split}", loss, on_epoch=True, on_step=False)
        return loss

    def training_step(self, batch, batch_idx):
        return self.step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self.step(batch, "val")

    def test_step(self, batch, batch_idx):
        self.step(batch, "test")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class GAN(pl.LightningModule):
    """A generator of points and a discriminator, each with its optimizer, stepped by hand (manual optimization)."""

    def __init__(self, n_features: int = 8, noise: int = 4, lr: float = 2e-3):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator = nn.Sequential(nn.Linear(noise, 16), nn.ReLU(), nn.Linear(16, n_features))
        self.discriminator = nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def losses(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fake = self(torch.randn(len(real), self.hparams.noise, device=real.device))
        ones, zeros = torch.ones(len(real), 1, device=real.device), torch.zeros(len(real), 1, device=real.device)
        d_loss = F.binary_cross_entropy_with_logits(
            self.discriminator(real), ones
        ) + F.binary_cross_entropy_with_logits(self.discriminator(fake.detach()), zeros)
        g_loss = F.binary_cross_entropy_with_logits(self.discriminator(fake), ones)
        return d_loss, g_loss

    def training_step(self, batch, batch_idx) -> None:
        g_opt, d_opt = self.optimizers()
        d_loss, _ = self.losses(batch[0])
        d_opt.zero_grad()
        self.manual_backward(d_loss)
        d_opt.step()
        _, g_loss = self.losses(batch[0])
        g_opt.zero_grad()
        self.manual_backward(g_loss)
        g_opt.step()
        self.log_dict({"d_loss": d_loss, "g_loss": g_loss}, on_epoch=True, on_step=False)

    def validation_step(self, batch, batch_idx) -> None:
        d_loss, g_loss = self.losses(batch[0])
        self.log_dict({"val_d_loss": d_loss, "val_g_loss": g_loss}, on_epoch=True)

    def configure_optimizers(self):
        lr = self.hparams.lr
        return torch.optim.Adam(self.generator.parameters(), lr=lr), torch.optim.Adam(
            self.discriminator.parameters(), lr=lr
        )
