"""The hand-written vanilla RNN cell computes exactly the equations of docs/experiments.md."""

import pytest
import torch

from src.networks.rnn import Recurrence, VanillaRNN


def test_parameters_are_named_after_the_equations():
    net = VanillaRNN(input_dim=1, hidden_dim=8, num_classes=10)
    shapes = {name: tuple(p.shape) for name, p in net.named_parameters()}
    assert shapes == {"W_hx": (8, 1), "W_hh": (8, 8), "b_h": (8,), "W_ph": (10, 8), "b_o": (10,)}


def test_forward_matches_the_recurrence_step_by_step():
    torch.manual_seed(0)
    net = VanillaRNN(input_dim=3, hidden_dim=5, num_classes=4)
    x = torch.randn(2, 6, 3)
    h = torch.zeros(2, 5)
    for t in range(6):
        h = torch.tanh(x[:, t] @ net.W_hx.T + h @ net.W_hh.T + net.b_h)
    expected = h @ net.W_ph.T + net.b_o
    torch.testing.assert_close(net(x), expected)


def test_loss_on_the_last_step_backpropagates_to_the_first_input():
    net = VanillaRNN(input_dim=1, hidden_dim=16, num_classes=10)
    x = torch.randn(4, 12, 1, requires_grad=True)
    net(x).sum().backward()
    assert x.grad[:, 0].abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_gradients_match_the_recurrence_written_step_by_step():
    torch.manual_seed(0)
    net = VanillaRNN(input_dim=1, hidden_dim=6, num_classes=4)
    x = torch.randn(3, 7, 1)
    net(x).square().sum().backward()
    fast = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    h = torch.zeros(3, 6)
    for t in range(7):  # the equations as written, one indexed step at a time
        h = torch.tanh(x[:, t] @ net.W_hx.T + h @ net.W_hh.T + net.b_h)
    (h @ net.W_ph.T + net.b_o).square().sum().backward()
    for got, expected in zip(fast, (p.grad for p in net.parameters())):
        torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("input_dim", [1, 2])  # 1: the rank-1 input projection of scalar digits
@pytest.mark.parametrize("steps", [1, 2, 5])
def test_written_out_backpropagation_through_time_matches_autograd(steps, input_dim):
    torch.manual_seed(0)
    x = torch.randn(3, steps, input_dim, dtype=torch.double, requires_grad=True)
    W_hx = torch.randn(4, input_dim, dtype=torch.double, requires_grad=True)
    W_hh = (0.5 * torch.randn(4, 4, dtype=torch.double)).requires_grad_()
    b_h = torch.randn(4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(Recurrence.apply, (x, W_hx, W_hh, b_h))


def test_eager_and_autograd_paths_agree_on_a_training_batch():
    torch.manual_seed(0)
    net = VanillaRNN(input_dim=1, hidden_dim=16, num_classes=10)
    x = torch.randint(0, 10, (8, 19, 1)).float()
    eager = net(x)
    eager.square().sum().backward()
    fast = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    via_autograd = torch.addmm(net.b_o, net.recur(x), net.W_ph.T)
    via_autograd.square().sum().backward()
    torch.testing.assert_close(eager, via_autograd)
    for got, expected in zip(fast, (p.grad for p in net.parameters())):
        torch.testing.assert_close(got, expected)


def test_recurrent_matrix_can_start_orthogonal_or_as_the_identity_times_a_gain():
    torch.manual_seed(0)
    orthogonal = VanillaRNN(1, 16, 10, recurrent_init="orthogonal", recurrent_gain=0.9).W_hh.detach()
    torch.testing.assert_close(orthogonal @ orthogonal.T, 0.81 * torch.eye(16))
    identity = VanillaRNN(1, 16, 10, recurrent_init="identity", recurrent_gain=1.0).W_hh.detach()
    assert torch.equal(identity, torch.eye(16))
    uniform = VanillaRNN(1, 16, 10).W_hh.detach()  # the seed's: uniform in +-1/sqrt(16)
    assert uniform.abs().max() <= 0.25 and not torch.allclose(uniform @ uniform.T, torch.eye(16), atol=0.1)
