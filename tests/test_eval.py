"""eval.py: a trained model tested or asked for predictions from its checkpoint alone, writing only its own folder."""

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from src.config.compose import ROOT_DIR, compose_config
from src.config.errors import ConfigError
from src.evaluate import run_eval
from tests.conftest import QUIET, TINY_RNN, run_train, subprocess_env
from tests.helpers import read_scalars
from tests.test_sharing import plant_malicious_checkpoint
from train import train

# palindromes of three digits (two given): one-hot inputs learn the last digit to 100% in a few epochs
LEARNS = [*TINY_RNN, "data.input_length=2", "data.one_hot=true", "optimizer.lr=0.01", "trainer.max_epochs=5"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A run folder of a tiny palindrome model that has learned its task."""
    root = tmp_path_factory.mktemp("trained")
    train(compose_config([*LEARNS, "callbacks.early_stopping=null"], root / "run"))
    return root / "run"


def evaluate(tmp_path: Path, *overrides: str) -> dict:
    """``python eval.py OVERRIDES``, in process, writing into a new folder tmp_path/eval<N> (as each eval has)."""
    folder = tmp_path / f"eval{len(list(tmp_path.glob('eval*')))}"
    return run_eval(compose_config([*QUIET, *overrides], folder, config_name="eval"), list(overrides))


def folder_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_eval_of_a_run_folder_repeats_its_final_test_and_writes_only_its_own_folder(trained, tmp_path):
    before = folder_hash(trained)
    result = evaluate(tmp_path, f"ckpt_path={trained}")
    assert result["metrics"]["test/acc"] == pytest.approx(read_scalars(trained)["test/acc"][-1], abs=1e-6)
    assert Path(result["checkpoint"]).name.startswith("epoch")  # the best checkpoint, as the final test used
    assert folder_hash(trained) == before
    assert (tmp_path / "eval0" / "eval.json").exists()


def test_eval_takes_other_data_settings_on_purpose_and_the_validation_split(trained, tmp_path):
    longer = evaluate(tmp_path, f"ckpt_path={trained}", "data.input_length=4")
    assert longer["data"]["input_length"] == 4 and longer["data"]["one_hot"] is True  # the rest from the checkpoint
    assert 0 <= longer["metrics"]["test/acc"] <= 1
    val = evaluate(tmp_path, f"ckpt_path={trained}", "split=val")
    assert set(val["metrics"]) >= {"val/acc", "val/loss"}


def test_predict_gives_the_last_digit_of_each_palindrome(trained, tmp_path):
    result = evaluate(tmp_path, f"ckpt_path={trained}", "predict=[[1,2],[7,3],[0,9],[5,5]]")
    assert [p["class"] for p in result["predictions"]] == [1, 7, 0, 5]
    for prediction in result["predictions"]:  # the top 3, most probable first
        probabilities = list(prediction["top"].values())
        assert next(iter(prediction["top"])) == prediction["class"] and len(probabilities) == 3
        assert probabilities == sorted(probabilities, reverse=True) and 0.5 < probabilities[0] <= 1
    torch.save(torch.tensor([[4, 8], [9, 1]]), tmp_path / "inputs.pt")
    np.save(tmp_path / "inputs.npy", np.array([[6, 2], [3, 3]]))
    for name, expected in (("inputs.pt", [4, 9]), ("inputs.npy", [6, 3])):
        result = evaluate(tmp_path, f"ckpt_path={trained}", f"predict={tmp_path / name}")
        assert [p["class"] for p in result["predictions"]] == expected


@pytest.mark.parametrize(
    "args, expected",
    [
        (["predict=[[1,12]]"], "predict: must be rows of digits 0 to 9"),
        (["predict=[1,2]"], "predict: must be a list of inputs"),
        (["split=train"], "split: must be one of test, val"),
        (["model.hidden_dim=7"], "model.hidden_dim: contradicts the checkpoint: model.hidden_dim"),
        (["model=mlp"], "model: contradicts the checkpoint"),
    ],
)
def test_bad_eval_input_is_one_line_naming_the_key(trained, tmp_path, args, expected):
    with pytest.raises(ConfigError) as error:
        evaluate(tmp_path, f"ckpt_path={trained}", *args)
    assert str(error.value).startswith(expected) and "\n" not in str(error.value)


def test_eval_refuses_files_this_project_did_not_write(tmp_path):
    (tmp_path / "notes.ckpt").write_text("not a checkpoint")
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")  # a Lightning checkpoint from elsewhere
    marker = tmp_path / "pwned"
    plant_malicious_checkpoint(tmp_path / "evil.ckpt", marker)
    for name, expected in [
        ("notes.ckpt", "is not a readable checkpoint"),
        ("foreign.ckpt", "carries no run settings"),
        ("evil.ckpt", "holds Python objects other than tensors and plain values"),
        ("missing.ckpt", "is neither a file nor a folder"),
    ]:
        with pytest.raises(ConfigError, match=f"^ckpt_path: .*{expected}"):
            evaluate(tmp_path, f"ckpt_path={tmp_path / name}")
    assert not marker.exists()


@pytest.mark.slow
def test_python_eval_py_prints_metrics_or_one_line(trained, tmp_path):
    result = run_train(f"ckpt_path={trained}", *QUIET, cwd=tmp_path, script="eval.py")
    assert "test/acc=" in result.stdout and list(tmp_path.glob("outputs/eval/*/*/eval.json"))
    # a mistyped path: refused in one line, before Lightning is even imported
    code = (
        "import atexit, runpy, sys; sys.argv = ['eval.py', 'ckpt_path=nowhere'];"
        "atexit.register(lambda: print('lightning imported:', 'pytorch_lightning' in sys.modules));"
        f"runpy.run_path({str(ROOT_DIR / 'eval.py')!r}, run_name='__main__')"
    )
    refused = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 2 and refused.stderr.startswith("ckpt_path: nowhere is neither a file nor a folder")
    assert refused.stderr.count("\n") == 1 and refused.stdout.strip() == "lightning imported: False"
    assert len(list(tmp_path.glob("outputs/eval/*/*"))) == 1  # a refused eval leaves nothing: no folder of its own
    helped = run_train("--help", cwd=tmp_path, script="eval.py")
    assert helped.stdout.startswith("eval.py: test a trained model again") and "ckpt_path: latest" in helped.stdout


def test_predict_inputs_that_are_not_real_numbers_are_refused_in_one_line(trained, tmp_path):
    np.save(tmp_path / "complex.npy", np.array([[1 + 2j, 3]]))
    np.save(tmp_path / "text.npy", np.array([["1", "2"]]))
    for name, expected in (("complex.npy", "inputs of dtype torch.complex128; give integers or real"),
                           ("text.npy", "not an array of inputs")):  # fmt: skip
        with pytest.raises(ConfigError, match=f"^predict: .*{name}: {expected}"):
            evaluate(tmp_path, f"ckpt_path={trained}", f"predict={tmp_path / name}")
