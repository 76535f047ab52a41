"""The palindrome datamodule: correct samples, disjoint splits, explicit handling of scarce lengths."""

import pytest
import torch

from src.config.errors import ConfigError
from src.datamodules.palindrome import PalindromeDataModule


def digits(x: torch.Tensor) -> torch.Tensor:
    return x.argmax(-1) if x.shape[-1] == 10 else x[..., 0].long()


def rows(split) -> set:
    x, y = split
    return set(map(tuple, torch.cat([digits(x), y[:, None]], 1).tolist()))


@pytest.mark.parametrize("length", [1, 2, 7, 8, 19, 60])
def test_every_sample_is_a_palindrome_whose_label_is_its_last_digit(length):
    dm = PalindromeDataModule(input_length=length, data_size=500, seed=3)
    dm.setup()
    for x, y in dm.splits.values():
        full = torch.cat([digits(x), y[:, None]], 1)
        assert x.shape[1:] == (length, 1) and x.dtype == torch.float32
        assert torch.equal(full, full.flip(1))
        assert full.min() >= 0 and full.max() <= 9


def test_splits_have_the_requested_sizes_and_share_no_palindrome():
    dm = PalindromeDataModule(input_length=9, data_size=2000, train_portion=0.75, test_size=300)
    dm.setup()
    assert {k: len(v[1]) for k, v in dm.splits.items()} == {"train": 1500, "val": 500, "test": 300}
    train, val, test = (rows(dm.splits[s]) for s in ("train", "val", "test"))
    assert len(train) == 1500 and not (train & val) and not (train & test) and not (val & test)


def test_scarce_length_with_replacement_keeps_sizes_and_disjoint_splits():
    dm = PalindromeDataModule(input_length=3, data_size=10_000)  # only 100 palindromes of 4 digits
    dm.setup()
    assert {k: len(v[1]) for k, v in dm.splits.items()} == {"train": 8000, "val": 2000, "test": 2000}
    train, val, test = (rows(dm.splits[s]) for s in ("train", "val", "test"))
    assert len(train | val | test) == 100 and not (train & val) and not (val & test) and not (train & test)


def test_scarce_length_with_distinct_sampling_caps_sizes_and_warns():
    dm = PalindromeDataModule(input_length=2, data_size=10_000, sampling="distinct")
    with pytest.warns(UserWarning, match="only 100 distinct palindromes"):
        dm.setup()
    sizes = {k: len(v[1]) for k, v in dm.splits.items()}
    assert sum(sizes.values()) == 100 and all(n > 0 for n in sizes.values())
    assert sum(len(rows(s)) for s in dm.splits.values()) == 100


def test_one_hot_inputs_encode_the_same_digits():
    scalar = PalindromeDataModule(input_length=6, data_size=300, seed=1)
    one_hot = PalindromeDataModule(input_length=6, data_size=300, seed=1, one_hot=True)
    scalar.setup(), one_hot.setup()
    x1, y1 = scalar.splits["train"]
    x2, y2 = one_hot.splits["train"]
    assert x2.shape == (240, 6, 10) and one_hot.input_dim == 10 and scalar.input_dim == 1
    assert torch.equal(digits(x1), digits(x2)) and torch.equal(y1, y2)


def test_same_seed_same_data_and_different_seed_different_data():
    a, b, c = (PalindromeDataModule(input_length=8, data_size=400, seed=s) for s in (5, 5, 6))
    for dm in (a, b, c):
        dm.setup()
    assert torch.equal(a.splits["train"][0], b.splits["train"][0])
    assert not torch.equal(a.splits["train"][0], c.splits["train"][0])


def test_train_batches_cover_the_training_set_once_per_epoch():
    dm = PalindromeDataModule(input_length=5, data_size=1000, batch_size=64)
    dm.setup()
    loader = dm.train_dataloader()
    batches = list(loader)
    assert len(batches) == len(loader) == 13 and len(batches[-1][0]) == 800 - 12 * 64
    assert rows((torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches]))) == rows(dm.splits["train"])


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"input_length": 0}, "input_length"),
        ({"input_length": "abc"}, "input_length"),
        ({"data_size": -5}, "data_size"),
        ({"train_portion": 1.5}, "train_portion"),
        ({"train_portion": 0.0}, "train_portion"),
        ({"batch_size": 0}, "batch_size"),
        ({"sampling": "sometimes"}, "sampling"),
        ({"one_hot": True, "input_dim": 1}, "input_dim"),
    ],
)
def test_bad_arguments_raise_a_config_error_naming_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=f"^{key}: "):
        PalindromeDataModule(**kwargs)


def test_scalar_digits_can_be_centred_and_scaled_and_stay_one_number_a_step():
    raw = PalindromeDataModule(input_length=7, data_size=200, seed=3)
    centred = PalindromeDataModule(input_length=7, data_size=200, seed=3, input_offset=4.5, input_scale=1 / 4.5)
    raw.setup(), centred.setup()
    (x_raw, y_raw), (x_centred, y_centred) = raw.splits["train"], centred.splits["train"]
    assert x_centred.shape == x_raw.shape == (160, 7, 1) and torch.equal(y_raw, y_centred)
    torch.testing.assert_close(x_centred, (x_raw - 4.5) / 4.5)
    assert x_centred.min() == -1 and x_centred.max() == 1
