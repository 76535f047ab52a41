"""The reduced VGG of docs/experiments.md 2, layer for layer."""

from torch import nn

from src.config.errors import check_int

# (kind, output channels): every conv is 3x3/1/1 + BatchNorm + ReLU, every pool 3x3/2/1.
LAYERS = [
    ("conv", 64),
    ("pool", None),
    ("conv", 128),
    ("pool", None),
    ("conv", 256),
    ("conv", 256),
    ("pool", None),
    ("conv", 512),
    ("conv", 512),
    ("pool", None),
    ("conv", 512),
    ("conv", 512),
    ("pool", None),
]


def conv_block(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(n_in, n_out, 3, stride=1, padding=1), nn.BatchNorm2d(n_out), nn.ReLU(inplace=True))


class ReducedVGG(nn.Module):
    """8 conv blocks and 5 max-pools take 32x32 images to 512x1x1; one linear layer to the classes."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10):
        super().__init__()
        check_int("in_channels", in_channels)
        check_int("num_classes", num_classes, minimum=2)
        layers, channels = [], in_channels
        for kind, width in LAYERS:
            if kind == "conv":
                layers.append(conv_block(channels, width))
                channels = width
            else:
                layers.append(nn.MaxPool2d(3, stride=2, padding=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))
