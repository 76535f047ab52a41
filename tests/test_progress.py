"""Progress output: a live bar in a terminal, a few log lines when redirected to a file."""

import io

import pytest
from pytorch_lightning.callbacks import RichProgressBar

from src.callbacks.progress import LogProgress, progress_bar
from tests.conftest import TINY_RNN, run_train


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_rich_bar_and_a_file_gets_log_lines(monkeypatch):
    monkeypatch.setattr("sys.stdout", FakeTerminal())
    assert isinstance(progress_bar(), RichProgressBar)
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert isinstance(progress_bar(), LogProgress)


@pytest.mark.slow
def test_redirected_run_logs_one_line_per_validation_and_no_bar_frames(tmp_path):
    tiny = [o for o in TINY_RNN if "progress" not in o]  # the default progress settings
    result = run_train(*tiny, "callbacks.progress_bar.min_seconds=0", cwd=tmp_path)
    assert "\r" not in result.stdout + result.stderr  # no carriage-return frames of a live bar
    lines = [line for line in result.stdout.splitlines() if "[progress]" in line]
    validations = [line for line in lines if "| val/acc " in line and line.split("] - ")[1].startswith("epoch")]
    assert len(validations) == 3  # trainer.max_epochs=3, one line after each validation
    assert any(line.split("] - ")[1].startswith("test: test/acc") for line in lines)
    assert len(result.stdout) < 4000  # a whole run in a few short lines
    (log_file,) = (tmp_path / "outputs").glob("*/*/train.log")
    assert "[progress]" in log_file.read_text()  # the same lines land in the run's log
