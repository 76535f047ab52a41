"""Seeds aggregated: the statistics against values computed by hand, and the report's tables of a sweep."""

import pytest

from src.report.seeds import groups_of, one_apart, summarize, welch

# Student's t quantiles (two-sided 95%) from a printed table: 2 and 4 degrees of freedom
T_2, T_4 = 4.303, 2.776


def test_a_groups_mean_spread_and_interval_are_the_textbook_ones():
    one = summarize([1.0, 2.0, 3.0])  # mean 2, sample standard deviation 1
    assert (one.n, one.mean, one.std) == (3, 2.0, 1.0)
    half = T_2 * 1.0 / 3**0.5  # t * s / sqrt(n) = 2.484
    assert one.low == pytest.approx(2.0 - half, abs=1e-3) and one.high == pytest.approx(2.0 + half, abs=1e-3)
    assert summarize([0.5, 0.5]).std == 0.0


def test_a_group_of_one_seed_says_so_instead_of_a_zero_width_interval():
    alone = summarize([0.9])
    assert (alone.n, alone.mean, alone.std, alone.low, alone.high) == (1, 0.9, None, None, None)
    assert alone.cells() == ["1", "0.9000", "one seed: no spread", ""]
    assert welch([0.9], [0.8, 0.7]).p is None and welch([0.9], [0.8, 0.7]).words() == "a group has one seed: no test"


def test_welchs_difference_interval_and_p_value_are_the_textbook_ones():
    diff = welch([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    # means 2 and 5, variances 1: standard error sqrt(1/3 + 1/3) = 0.8165; Welch's degrees of freedom
    # (2/3)^2 / ((1/3)^2/2 + (1/3)^2/2) = 4; t = 3 / 0.8165 = 3.674, two-sided p = 0.0213 for 4 dof
    assert diff.delta == 3.0
    assert diff.low == pytest.approx(3.0 - T_4 * 0.8165, abs=1e-3) and diff.high == pytest.approx(
        3.0 + T_4 * 0.8165, abs=1e-3
    )
    assert diff.p == pytest.approx(0.0213, abs=1e-4)
    assert diff.words() == "higher beyond the seed-to-seed spread (p = 0.0213)"
    close = welch([1.0, 2.0, 3.0], [1.5, 2.5, 3.5])  # 0.5 apart with a spread of 1: within it
    assert close.low < 0 < close.high and close.words().startswith("within the seed-to-seed spread (p = ")
    assert welch([4.0, 5.0, 6.0], [1.0, 2.0, 3.0]).words().startswith("lower beyond")


def test_jobs_are_grouped_by_every_setting_but_the_seed_and_compared_where_one_setting_differs():
    settings = [
        {"optimizer": "sgd", "seed": "1", "data": "moons"},
        {"optimizer": "sgd", "seed": "2", "data": "moons"},
        {"optimizer": "adam", "seed": "1", "data": "moons"},
        {"optimizer": "adam", "seed": "2", "data": "circles"},
    ]
    groups = groups_of(settings, "seed")
    assert list(groups.values()) == [[0, 1], [2], [3]]
    keys = list(groups)
    assert keys[0] == (("data", "moons"), ("optimizer", "sgd"))
    assert one_apart(keys) == [(0, 1, "optimizer"), (1, 2, "data")]  # sgd/moons vs adam/circles differ in two


def fake_job(sweep, name: str, overrides: list[str], values: list[float]):
    """A completed job folder as Hydra and this project lay it out: val/acc per epoch, test/acc once."""
    from torch.utils.tensorboard import SummaryWriter

    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (job / ".hydra" / "config.yaml").write_text("monitor:\n  metric: val/acc\n  mode: max\n")
    writer = SummaryWriter(str(job))
    for step, value in enumerate(values):
        writer.add_scalar("val/acc", value, step)
    writer.add_scalar("test/acc", values[-1], len(values))
    writer.close()
    (job / "COMPLETED").write_text(f"{max(values)}\n")


def test_the_report_of_a_seeded_sweep_aggregates_each_setting_and_compares_the_two(tmp_path):
    from src.report.write import write_report

    sweep = tmp_path / "sweep"
    best = {"sgd": [0.70, 0.72, 0.74], "adam": [0.90, 0.91, 0.92]}
    for optimizer, values in best.items():
        for seed, value in enumerate(values, start=1):
            fake_job(sweep, f"optimizer={optimizer},seed={seed}", [f"optimizer={optimizer}", f"seed={seed}"],
                     [value - 0.1, value])  # fmt: skip
    fake_job(sweep, "optimizer=rmsprop,seed=1", ["optimizer=rmsprop", "seed=1"], [0.5, 0.6])
    report = (write_report(sweep)).read_text()
    section = report.split("## Across seeds (seed)", 1)[1]
    table = section.split("### val/acc (best)", 1)[1].split("###", 1)[0]
    sgd, adam = summarize(best["sgd"]), summarize(best["adam"])
    assert f"| optimizer=sgd | 3 | {sgd.mean:.4f} | {sgd.std:.4f} | [{sgd.low:.4f}, {sgd.high:.4f}] |" in table
    assert f"| optimizer=adam | 3 | {adam.mean:.4f} | {adam.std:.4f} |" in table
    assert "| optimizer=rmsprop | 1 | 0.6000 | one seed: no spread |  |" in table
    diff = welch(best["adam"], best["sgd"])  # groups in folder order: adam, rmsprop, sgd
    row = next(line for line in table.splitlines() if line.startswith("| optimizer | adam | sgd | - |"))
    assert f"| {diff.delta:+.4f} | [{diff.low:+.4f}, {diff.high:+.4f}] | {diff.p:.3g} |" in row
    assert diff.delta == pytest.approx(-0.19) and row.endswith(
        f"| lower beyond the seed-to-seed spread (p = {diff.p:.3g}) |"
    )
    assert "| optimizer | adam | rmsprop | - | -0.3100 |  |  | a group has one seed: no test |" in table
    assert "### test/acc" in section and (sweep / "report" / "seeds.png").stat().st_size > 5000


def test_compare_shows_only_what_differs_the_metrics_side_by_side_and_overlaid_curves(tmp_path, capsys):
    import json

    from src.report.__main__ import main

    for name, lr, commit, values in (("a", "0.01", "1" * 40, [0.5, 0.8]), ("b", "0.1", "2" * 40, [0.6, 0.7])):
        fake_job(tmp_path, name, [f"optimizer.lr={lr}"], values)
        config = f"monitor:\n  metric: val/acc\n  mode: max\noptimizer:\n  _target_: torch.optim.Adam\n  lr: {lr}\n"
        config += "seed: 1\nmodule:\n  _target_: os.system\n"  # a run folder's text: shown, never imported or run
        (tmp_path / name / ".hydra" / "config.yaml").write_text(config)
        record = {"git": {"commit": commit, "dirty": False}, "versions": {"torch": "2.14.1"}, "device": {"name": "CPU"}}
        (tmp_path / name / "provenance.json").write_text(json.dumps(record))
    code = main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "page")])
    out, err = capsys.readouterr()
    assert code == 0 and err == "" and out.strip() == str(tmp_path / "page" / "report.md")
    page = (tmp_path / "page" / "report.md").read_text()
    differ = page.split("## Settings that differ", 1)[1].split("## Metrics", 1)[0]
    rows = [
        line.split("|")[1].strip() for line in differ.splitlines() if line.startswith("| ") and "setting" not in line
    ]
    assert rows == ["optimizer.lr", "provenance.commit"]  # not the seed, the monitor, the libraries or the device
    assert f"| provenance.commit | {'1' * 40} | {'2' * 40} |" in differ
    metrics = page.split("## Metrics", 1)[1]
    assert "| val/acc (best) | 0.8000 | 0.7000 |" in metrics and "| test/acc (final) | 0.8000 | 0.7000 |" in metrics
    assert (tmp_path / "page" / "acc.png").stat().st_size > 5000 and "![acc](acc.png)" in page
    assert main(["compare", str(tmp_path / "a")]) == 2 and "give two run folders" in capsys.readouterr().err


@pytest.mark.parametrize("preset", ["cnn_optimizers", "mlp_numpy_vs_torch", "palindrome_lengths"])
def test_a_comparing_preset_runs_each_setting_with_the_seeds_asked_for(preset, tmp_path):
    from src.config.compose import compose_config
    from src.private_api import basic_sweep_jobs
    from src.sweeps.summary import sweep_overrides

    def jobs(*overrides):
        cfg = compose_config([f"experiment={preset}", *overrides], tmp_path / "x", with_hydra=True)
        return basic_sweep_jobs(sweep_overrides(cfg))

    one, three = jobs("seed=7"), jobs("seeds=3")
    assert len(three) == 3 * len(one) and all("seed=7" in job for job in one)  # one seed: the run's own
    for index, job in enumerate(three):
        assert f"seed={1 + index % 3}" in job


def test_a_seeded_sweeps_parent_run_in_mlflow_holds_each_groups_summary(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow", reason="the optional extra (make install installs it)")
    from src.config.resolvers import MLFLOW_PARENT_ENV
    from src.sweeps.tracking import MLFLOW_URI_ENV, log_group_summaries

    for optimizer, values in {"sgd": [0.70, 0.74], "adam": [0.90, 0.92]}.items():
        for seed, value in enumerate(values, start=1):
            fake_job(tmp_path, f"optimizer={optimizer},seed={seed}", [f"optimizer={optimizer}", f"seed={seed}"],
                     [value])  # fmt: skip
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    parent = client.create_run(client.create_experiment("seeds")).info.run_id
    monkeypatch.setenv(MLFLOW_PARENT_ENV, parent)
    monkeypatch.setenv(MLFLOW_URI_ENV, uri)
    log_group_summaries(tmp_path)
    run = client.get_run(parent)
    adam = summarize([0.90, 0.92])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["optimizer-adam/val/acc best/n"] == 2
    assert run.data.metrics["optimizer-adam/val/acc best/mean"] == pytest.approx(adam.mean, abs=1e-6)
    assert run.data.metrics["optimizer-adam/val/acc best/ci_low"] == pytest.approx(adam.low, abs=1e-6)
    assert run.data.metrics["optimizer-sgd/test/acc/std"] == pytest.approx(summarize([0.70, 0.74]).std, abs=1e-6)
