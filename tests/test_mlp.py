"""The PyTorch MLP, the hand-written NumPy MLP, and their agreement step by step."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from src.config.errors import ConfigError
from src.networks.mlp import MLP, parse_hidden_units
from src.networks.mlp_numpy import NumpyMLP


@pytest.mark.parametrize(
    "value, units",
    [("20", [20]), ("512,256,128", [512, 256, 128]), (" 8, 4 ", [8, 4]), ([16, 8], [16, 8]), (20, [20]), ("", [])],
)
def test_hidden_units_accept_a_string_a_list_or_an_int(value, units):
    assert parse_hidden_units(value) == units


@pytest.mark.parametrize("value", ["abc", "20,,5", "0", "-3", "2.5", [4, 0], [True], None])
def test_hidden_units_that_are_not_positive_integers_are_a_config_error(value):
    with pytest.raises(ConfigError, match="^hidden_units: must be positive integers"):
        parse_hidden_units(value)


def test_mlp_layers_follow_the_hidden_units():
    net = MLP(input_dim=3072, hidden_units="512,256,128", num_classes=10)
    assert [(layer.in_features, layer.out_features) for layer in net.linears()] == [
        (3072, 512),
        (512, 256),
        (256, 128),
        (128, 10),
    ]
    assert net(torch.zeros(4, 3, 32, 32)).shape == (4, 10)  # images are flattened


def test_numpy_mlp_starts_from_the_weights_of_a_torch_mlp_built_with_the_same_seed():
    torch.manual_seed(3)
    torch_net = MLP(2, "5,4", 2)
    torch.manual_seed(3)
    numpy_net = NumpyMLP(2, "5,4", 2)
    for layer, w, b in zip(torch_net.linears(), numpy_net.weights, numpy_net.biases):
        np.testing.assert_array_equal(layer.weight.detach().numpy().T, w)
        np.testing.assert_array_equal(layer.bias.detach().numpy(), b)


def test_numpy_backward_matches_finite_differences_for_every_parameter():
    torch.manual_seed(0)
    net = NumpyMLP(3, "6,5", 4, dtype="float64")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.integers(0, 4, size=7)
    _, _, grads = net.loss_and_grads(x, y)
    eps = 1e-6
    for parameter, grad in zip(net.parameters(), grads):
        numeric = np.zeros_like(parameter)
        for index in np.ndindex(parameter.shape):
            saved = parameter[index]
            parameter[index] = saved + eps
            plus = net.cross_entropy(net.forward(x)[0], y)[0]
            parameter[index] = saved - eps
            minus = net.cross_entropy(net.forward(x)[0], y)[0]
            parameter[index] = saved
            numeric[index] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_numpy_and_torch_mlp_follow_the_same_loss_curve_for_100_sgd_steps():
    torch.manual_seed(1)
    torch_net = MLP(2, "20", 2)
    torch.manual_seed(1)
    numpy_net = NumpyMLP(2, "20", 2)
    optimizer = torch.optim.SGD(torch_net.parameters(), lr=0.05)
    rng = np.random.default_rng(1)
    for _ in range(100):
        x, y = rng.normal(size=(32, 2)).astype(np.float32), rng.integers(0, 2, size=32)
        loss = F.cross_entropy(torch_net(torch.from_numpy(x)), torch.from_numpy(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        numpy_loss, _, grads = numpy_net.loss_and_grads(x, y)
        numpy_net.sgd_step(grads, 0.05)
        assert abs(numpy_loss - loss.item()) < 1e-5
