"""The tensor-slicing loader: epochs are reproducible and a resumed loader continues where it stopped."""

import functools
import operator

import torch

from src.datamodules.batches import TensorBatches


def make_loader(seed: int = 0) -> TensorBatches:
    return TensorBatches(torch.arange(10), torch.arange(10) * 2, batch_size=3, shuffle=True, seed=seed)


def test_order_is_a_function_of_seed_and_epoch():
    a, b = make_loader(), make_loader()
    first = [x.tolist() for x, _ in a]
    a.sampler.set_epoch(1)
    second = [x.tolist() for x, _ in a]
    assert first == [x.tolist() for x, _ in b] and first != second
    assert sorted(functools.reduce(operator.iadd, second, [])) == list(range(10))


def test_batches_keep_inputs_and_labels_aligned():
    for x, y in make_loader():
        assert torch.equal(y, x * 2)


def test_resumed_loader_serves_the_rest_of_the_interrupted_epoch():
    full = make_loader()
    full.sampler.set_epoch(2)
    expected = [x.tolist() for x, _ in full]
    interrupted = make_loader()
    interrupted.sampler.set_epoch(2)
    iterator = iter(interrupted)
    next(iterator), next(iterator)
    resumed = make_loader()
    resumed.load_state_dict(interrupted.state_dict())
    assert interrupted.state_dict() == {"epoch": 2, "served": 2}
    assert [x.tolist() for x, _ in resumed] == expected[2:]
    assert [x.tolist() for x, _ in resumed] == expected  # the next pass is a whole epoch again
