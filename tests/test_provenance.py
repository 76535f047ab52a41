"""Every run says what produced it: code, command, libraries, device, start and end."""

import json
import re

from src.records import provenance
from src.report.write import write_report
from tests.conftest import TINY_RNN
from tests.helpers import hparams_metric_tags
from train import train


def test_a_run_records_its_commit_command_versions_device_and_times(make_cfg, tmp_path):
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=1"))
    record = json.loads((tmp_path / "run" / "provenance.json").read_text())
    git = record["git"]
    assert git["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", git["commit"])  # a clone, or an unpacked archive
    assert git["commit"] is None or isinstance(git["dirty"], bool)
    assert set(record["versions"]) >= {"python", "torch", "pytorch-lightning", "hydra-core", "torchmetrics"}
    assert record["device"]["kind"] == "cpu" and record["device"]["name"].startswith("CPU")
    assert record["started"] <= record["ended"] and record["command"].startswith("python ")
    assert hparams_metric_tags(tmp_path / "run")  # the HPARAMS columns survive the extra hyperparameters
    hparams = (tmp_path / "run" / "hparams.yaml").read_text()
    assert "git_commit:" in hparams and "pytorch-lightning:" in hparams


def test_outside_a_git_checkout_a_run_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(provenance, "CODE_DIR", tmp_path)  # a folder that is no checkout
    assert provenance.git_state() == {
        "commit": None,
        "note": "not run from a git checkout of this project (or git is not installed)",
    }
    monkeypatch.setenv("PATH", str(tmp_path))  # and a machine without git at all
    assert provenance.git_state()["commit"] is None


def test_a_dirty_tree_keeps_its_diff_and_the_report_row_shows_commit_and_device(make_cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "_git", fake_git)
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=1"))
    record = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert record["git"] == {"commit": "0123456789abcdef" * 2 + "01234567", "dirty": True, "diff": "+ a change\n"}
    (tmp_path / "run" / ".hydra").mkdir()
    (tmp_path / "run" / ".hydra" / "overrides.yaml").write_text("[]\n")
    report = write_report(tmp_path / "run").read_text()
    assert f"| 01234567+ | {record['device']['name']} |" in report


def test_a_copy_without_git_inside_another_repository_records_no_commit(monkeypatch, tmp_path):
    import subprocess

    outer = tmp_path / "outer"
    (outer / "copy").mkdir(parents=True)
    git = ["git", "-C", str(outer), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True, timeout=30)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "outer"], check=True, timeout=30)
    monkeypatch.setattr(provenance, "CODE_DIR", (outer / "copy").resolve())  # the project, copied in without .git
    assert provenance.git_state()["commit"] is None
    monkeypatch.setattr(provenance, "CODE_DIR", outer.resolve())  # the outer repository's own code: its commit
    assert re.fullmatch(r"[0-9a-f]{40}", provenance.git_state()["commit"])


def fake_git(*args: str) -> str:
    if args == ("rev-parse", "--show-toplevel"):
        return f"{provenance.CODE_DIR}\n"
    return {"rev-parse": "0123456789abcdef" * 2 + "01234567\n", "status": " M train.py\n", "diff": "+ a change\n"}[
        args[0]
    ]
