"""A user's code written against the ``lightning`` package, as Lightning's own docs write it
(``import lightning as L``), knowing nothing of this project: a datamodule and a regressor."""

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class LitPoints(L.LightningDataModule):
    """Points in ``n_features`` dimensions; the target is the sum of their features."""

    def __init__(self, n_samples: int = 512, n_features: int = 8, batch_size: int = 32):
        super().__init__()
        self.save_hyperparameters()

    def setup(self, stage: str) -> None:
        x = torch.randn(self.hparams.n_samples, self.hparams.n_features, generator=torch.Generator().manual_seed(0))
        third = len(x) // 3
        self.splits = {s: TensorDataset(x[i * third : (i + 1) * third]) for i, s in enumerate(("train", "val", "test"))}

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["train"], batch_size=self.hparams.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["val"], batch_size=self.hparams.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["test"], batch_size=self.hparams.batch_size)


class LitRegressor(L.LightningModule):
    def __init__(self, n_features: int = 8, lr: float = 0.01):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def training_step(self, batch, batch_idx):
        loss = F.mse_loss(self(batch[0]), batch[0].sum(-1))
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", F.mse_loss(self(batch[0]), batch[0].sum(-1)))

    def test_step(self, batch, batch_idx):
        self.log("test_loss", F.mse_loss(self(batch[0]), batch[0].sum(-1)))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
