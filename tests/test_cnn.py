"""The reduced VGG is exactly the architecture of docs/experiments.md 2."""

import torch
from torch import nn

from src.lit_models.cnn import ImageClassifier
from src.networks.cnn import ReducedVGG


def test_layers_are_the_specified_conv_blocks_and_pools():
    net = ReducedVGG(3, 10)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 64),
        (64, 128),
        (128, 256),
        (256, 256),
        (256, 512),
        (512, 512),
        (512, 512),
        (512, 512),
    ]
    assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) and c.padding == (1, 1) for c in convs)
    pools = [m for m in net.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 5 and all((p.kernel_size, p.stride, p.padding) == (3, 2, 1) for p in pools)
    for block in (m for m in net.features if isinstance(m, nn.Sequential)):
        assert [type(m) for m in block] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert (net.classifier.in_features, net.classifier.out_features) == (512, 10)


def test_spatial_size_after_every_stage():
    net = ReducedVGG(3, 10).eval()
    x, sizes = torch.zeros(2, 3, 32, 32), []
    for layer in net.features:
        x = layer(x)
        sizes.append((x.shape[1], x.shape[2]))
    assert sizes == [
        (64, 32),
        (64, 16),
        (128, 16),
        (128, 8),
        (256, 8),
        (256, 8),
        (256, 4),
        (512, 4),
        (512, 4),
        (512, 2),
        (512, 2),
        (512, 2),
        (512, 1),
    ]
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_parameter_count():
    convs = [(3, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 512), (512, 512)]
    expected = sum(9 * i * o + o + 2 * o for i, o in convs) + 512 * 10 + 10  # conv w+b, BN gamma+beta, linear
    assert sum(p.numel() for p in ReducedVGG(3, 10).parameters()) == expected == 9_231_114


def test_input_channels_follow_the_data():
    assert ReducedVGG(1, 10)(torch.zeros(2, 1, 32, 32)).shape == (2, 10)


def test_channels_last_reaches_the_network_with_nhwc_weights_and_inputs():
    net = ReducedVGG(3, 10)
    module = ImageClassifier(net, lambda p: torch.optim.Adam(p), channels_last=True)
    seen = []
    net.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    images = torch.rand(2, 3, 32, 32)  # contiguous NCHW, as a datamodule's transforms leave them
    module.step((images, torch.tensor([0, 1])), "train")
    assert seen[0].is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous(
        memory_format=torch.channels_last
    )
    assert net.features[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(seen[0], images)


def test_on_a_gpu_the_cnn_defaults_to_bf16_and_channels_last_and_stays_fp32_on_a_cpu(tmp_path):
    from src.config.compose import compose_config

    gpu = compose_config(["model=cnn", "trainer=gpu"], tmp_path)
    assert gpu.trainer.precision == "bf16-mixed" and gpu.module.channels_last is True
    cpu = compose_config(["model=cnn", "trainer=cpu"], tmp_path)
    assert cpu.trainer.precision == "32-true" and cpu.module.channels_last is False
    chosen = compose_config(["model=cnn", "trainer=gpu", "trainer.precision=32-true"], tmp_path)
    assert chosen.trainer.precision == "32-true"  # still a setting


def test_tf32_is_a_process_setting_that_changes_nothing_without_a_gpu():
    import pytest
    import torch

    from src.config.errors import ConfigError
    from src.process import configure_process

    before = torch.get_float32_matmul_precision()
    applied = configure_process(keep_freed_memory=False, skip_nvml_probe=False, quiet=False, quick_exit=False)
    assert applied["tf32"] is torch.cuda.is_available()
    if not torch.cuda.is_available():
        assert torch.get_float32_matmul_precision() == before
    with pytest.raises(ConfigError, match="process.tf32: must be true or false"):
        configure_process(tf32="yes")
