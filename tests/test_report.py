"""python -m src.report: tables equal the logged values; broken jobs and wrong folders handled."""

import subprocess
import sys

import pytest
import torch

from src.config.compose import CONF_DIR, config_options
from src.report.__main__ import main
from src.report.runs import find_runs
from src.report.write import write_report
from tests.conftest import ROOT_DIR as ROOT
from tests.conftest import TINY_RNN
from tests.helpers import read_scalars
from train import train


def report_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "src.report", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def report_main(*args, capsys) -> tuple[int, str, str]:
    """``python -m src.report ARGS`` in this process: its exit status, stdout and stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def fake_sweep(make_cfg, tmp_path):
    """A sweep folder of two trained jobs, as Hydra lays it out, written in process."""
    sweep = tmp_path / "sweep"
    for length in (3, 4):
        job = sweep / f"data.input_length={length}"
        train(make_cfg(*TINY_RNN, f"data.input_length={length}", "trainer.max_epochs=2", name=f"sweep/{job.name}"))
        (job / ".hydra").mkdir()
        (job / ".hydra" / "overrides.yaml").write_text(f"- data.input_length={length}\n- trainer=cpu\n")
    return sweep


def test_report_numbers_equal_the_last_logged_values_and_a_broken_job_is_listed(make_cfg, tmp_path):
    sweep = fake_sweep(make_cfg, tmp_path)
    broken = sweep / "data.input_length=5"
    (broken / ".hydra").mkdir(parents=True)
    (broken / ".hydra" / "overrides.yaml").write_text("- data.input_length=5\n- trainer=cpu\n")
    report = write_report(sweep).read_text()
    for length in (3, 4):
        scalars = read_scalars(sweep / f"data.input_length={length}")
        row = next(line for line in report.splitlines() if line.startswith(f"| data.input_length={length} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        expected = [f"{scalars[m][-1]:.4f}" for m in ("val/acc_best", "val/acc", "val/loss", "test/acc", "test/loss")]
        best = f"{max(scalars['val/acc']):.4f}"  # the monitored metric's best, as the summary and a sweeper have it
        assert cells[1] == "ok" and cells[2:8] == [best, *expected]
    assert "| data.input_length=5 | NOT FINISHED: no status file" in report
    assert (sweep / "report" / "curves" / "data.input_length=3.png").stat().st_size > 1000
    assert [r.path.name for r in find_runs(sweep)] == [f"data.input_length={n}" for n in (3, 4, 5)]


def test_cli_writes_the_report_of_a_run(make_cfg, tmp_path, capsys):
    train(make_cfg(*TINY_RNN, "trainer.max_epochs=2"))
    (tmp_path / "run" / ".hydra").mkdir()
    (tmp_path / "run" / ".hydra" / "overrides.yaml").write_text("[]\n")
    code, out, err = report_main(str(tmp_path / "run"), capsys=capsys)
    assert code == 0 and out.strip().endswith("report.md"), err
    assert (tmp_path / "run" / "report" / "report.md").read_text().count("| run | ok |") == 1


@pytest.mark.slow
def test_empty_or_wrong_folder_gives_a_one_line_error(tmp_path, capsys):
    result = report_cli(str(tmp_path / "missing"), cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith(f"error: {tmp_path / 'missing'}: ")
    assert result.stderr.count("\n") == 1
    code, _, err = report_main(str(tmp_path), capsys=capsys)  # a folder without runs
    assert code == 2 and err.startswith(f"error: {tmp_path}: ") and err.count("\n") == 1


@pytest.mark.slow
def test_data_option_draws_the_toy_dataset_scatter_plot(tmp_path, capsys):
    code, _, err = report_main("--data", "moons", "--out", str(tmp_path), capsys=capsys)
    assert code == 0, err
    assert (tmp_path / "moons.png").stat().st_size > 5000
    code, _, err = report_main("--data", "palindrome", "--out", str(tmp_path), capsys=capsys)
    toy_sets = [c for c in config_options("data") if "generator:" in (CONF_DIR / "data" / f"{c}.yaml").read_text()]
    assert {"moons", "circles", "hastie", "multi"} <= set(toy_sets)  # read from conf/: a new toy set is listed too
    assert code == 2 and f"not a toy dataset; choose one of: {', '.join(toy_sets)}" in err


def test_a_job_without_a_completed_status_is_never_called_ok(make_cfg, tmp_path):
    sweep = fake_sweep(make_cfg, tmp_path)
    killed = sweep / "data.input_length=4"
    (killed / "COMPLETED").unlink()  # as a job killed mid-run leaves it: events, a checkpoint, no status
    (killed / "checkpoints" / ".last.ckpt.partial-4242").write_bytes(b"the first bytes of a checkpoint")
    report = write_report(sweep).read_text()
    assert "| data.input_length=4 | NOT FINISHED: no status file (killed, or still running) |" in report
    assert "| data.input_length=3 | ok |" in report and "1 with results" in report


@pytest.mark.slow
def test_the_report_of_every_kind_of_folder_a_run_leaves_is_written_or_refused_in_one_line(
    tmp_path, monkeypatch, capsys
):
    from tests.conftest import QUIET, run_train

    # a run failed mid-run is reported FAILED (tests/test_safety.py, a diverged job); a refused one leaves nothing
    refused = run_train(*QUIET, "ckpt_path=missing.ckpt", "hydra.run.dir=refused", cwd=tmp_path, check=False)
    assert refused.returncode == 2 and not (tmp_path / "refused").exists()
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    for name in ("empty", "missing", "refused"):
        code, _, err = report_main(name, capsys=capsys)
        assert code == 2 and err.count("\n") == 1 and err.startswith(f"error: {name}: ")


@pytest.mark.slow
def test_the_decision_boundary_of_a_network_that_learned_moons_separates_the_classes(make_cfg, tmp_path):
    from src.records.boundary import agreement, boundary, read_boundary
    from src.report.model_figures import plot_boundaries
    from src.run.build import build_run

    learns = ["model=mlp", "data=moons", "data.mode=stochastic", "optimizer=adam", "optimizer.lr=0.01"]
    train(make_cfg(*learns, "trainer.max_epochs=15", "callbacks.early_stopping=null", *TINY_RNN[:3]))
    saved = read_boundary(tmp_path / "run")  # computed by the run itself, after its final test
    figure, agreements = plot_boundaries({"moons | mlp": saved}, tmp_path / "b.png")
    assert agreements["moons | mlp"] > 0.8 and figure.stat().st_size > 5000  # test points on their class's side
    untrained = build_run(make_cfg(*learns, *TINY_RNN[:3], name="untrained")).module
    for parameter in untrained.parameters():
        torch.nn.init.zeros_(parameter)  # predicts one class everywhere: about half the points on their side
    xs, ys, classes = boundary(untrained, saved["points"])
    assert agreement(xs, ys, classes, saved["points"], saved["labels"]) < 0.6


def test_the_numpy_mlp_gets_its_decision_boundary_too(make_cfg, tmp_path):
    train(make_cfg("model=mlp_numpy", "data=moons", "trainer.max_epochs=20", *TINY_RNN[:3]))  # validates twice
    (tmp_path / "run" / ".hydra").mkdir()
    (tmp_path / "run" / ".hydra" / "overrides.yaml").write_text("[]\n")
    report = write_report(tmp_path / "run").read_text()
    assert "](boundaries.png)" in report and "no figure" not in report


def test_event_files_are_read_in_the_order_they_were_written_not_by_name(tmp_path):
    import time

    from torch.utils.tensorboard import SummaryWriter

    from src.report.runs import read_scalars

    names = []
    for phase, value in (("fit", 1.0), ("test", 2.0)):  # a process's 99th and 100th event files
        writer = SummaryWriter(str(tmp_path / phase))
        writer.add_scalar("test/acc", value, 1)
        writer.close()
        (written,) = (tmp_path / phase).glob("events.out.tfevents.*")
        names.append(written)
        time.sleep(0.05)
    for written, counter in zip(names, (99, 100)):
        written.rename(tmp_path / f"events.out.tfevents.1796000000.host.4242.{counter}")  # '...100' sorts first
    assert read_scalars(tmp_path)["test/acc"] == [(1, 1.0), (1, 2.0)]  # the last value is the test's


def test_the_report_never_writes_through_a_link_nor_into_a_database_it_reads(make_cfg, tmp_path, capsys):
    import sqlite3

    sweep = fake_sweep(make_cfg, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (sweep / "report").symlink_to(elsewhere)
    code, _, err = report_main(str(sweep), capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "report is a link: the report writes only into a folder of its" in err
    assert not list(elsewhere.iterdir())
    (sweep / "report").unlink()
    foreign = sqlite3.connect(sweep / "optuna.db")  # somebody else's database, under the study's file name
    foreign.execute("CREATE TABLE notes (line TEXT)")
    foreign.commit()
    foreign.close()
    before = (sweep / "optuna.db").read_bytes()
    report = write_report(sweep).read_text()
    assert "(no search figures: " in report and "is an SQLite database without an Optuna study in it)" in report
    assert (sweep / "optuna.db").read_bytes() == before  # opened read-only: no schema added
    (sweep / "optuna.db").write_text("not a database\n" * 100)
    assert "is not an SQLite database (file is not a database)" in write_report(sweep).read_text()
