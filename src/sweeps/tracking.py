"""A sweep in MLflow: the store and experiment its jobs share, made once, and a parent run over its jobs.

Jobs that run at once (``launcher=parallel``) would each find a new store and experiment missing
and race to create them: SQLite's schema migrations collide ("Online migration expected to match
one row"), and the experiment's name is unique, so all but one job would fail. The launching
process creates both first, through MLflow's own client; the jobs then only open them. It also
creates the sweep's parent run (named after the sweep's folder), whose id each job's logger is given
as its ``mlflow.parentRunId`` tag (``PARENT_ENV``, read by the ``mlflow_parent`` resolver), so MLflow
shows the jobs under it; when the sweep ends, the parent holds the report's summaries of each group of
seeds (``log_group_summaries``), which MLflow's compare view puts side by side.
"""

import logging
import os
import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from src.config.resolvers import MLFLOW_PARENT_ENV

log = logging.getLogger(__name__)


def prepare_mlflow(config: DictConfig) -> None:
    """Create the MLflow experiment the sweep's ``logger.mlflow`` names (and its store), if it has one, and the
    sweep's parent run."""
    logger = OmegaConf.select(config, "logger.mlflow", default=None)
    if not logger or not str(logger.get("_target_", "")).endswith("MLFlowLogger"):
        return
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:  # each job says how to install it
        return
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(config)  # what each job will have: ${hydra:...} in the logger's settings
    uri, name = logger.tracking_uri, logger.experiment_name
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        experiment_id = client.create_experiment(name)
        log.info("MLflow experiment %s created in %s", name, uri)
    else:
        experiment_id = experiment.experiment_id
    sweep_dir = Path(config.hydra.sweep.dir)
    parent = client.create_run(experiment_id, run_name=sweep_dir.name, tags={"sweep_dir": str(sweep_dir)})
    os.environ[MLFLOW_PARENT_ENV] = parent.info.run_id  # each job's logger tags its run with it
    os.environ[MLFLOW_URI_ENV] = str(uri)


MLFLOW_URI_ENV = "TRAIN_MLFLOW_PARENT_URI"  # where the parent run is, for the summaries at the end


def metric_key(*parts: str) -> str:
    """An MLflow metric name from report labels: ``optimizer=adam``, ``val/acc (best)`` -> ``optimizer-adam``,
    ``val/acc best`` (MLflow takes letters, digits, ``_ - . /`` and space)."""
    return "/".join(re.sub(r"[^\w\-. /]", "-", re.sub(r"\((\w+)\)", r"\1", part)) for part in parts)


def log_group_summaries(sweep_dir: Path, repeat: str = "seed") -> None:
    """Log, to the sweep's parent run, each group's n, mean, standard deviation and 95% interval per metric (the
    report's ``Across seeds`` tables), then end it; nothing where the sweep has no parent run."""
    parent, uri = os.environ.pop(MLFLOW_PARENT_ENV, None), os.environ.pop(MLFLOW_URI_ENV, None)
    if parent is None or uri is None:
        return
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    from src.report.runs import find_runs, varying_keys
    from src.report.seeds import group_summaries
    from src.report.write import columns

    client = MlflowClient(tracking_uri=uri)
    runs = find_runs(sweep_dir)
    keys = varying_keys(runs)
    metrics = []
    if repeat in keys:
        done = [r for r in runs if r.has_results]
        for group, header, summary in group_summaries(runs, keys, columns(done or runs), repeat):
            values = {"n": summary.n, "mean": summary.mean, "std": summary.std, "ci_low": summary.low,
                      "ci_high": summary.high}  # fmt: skip
            for name, value in values.items():
                if value is not None:
                    metrics.append(Metric(metric_key(group, header, name), float(value), 0, 0))
    if metrics:
        client.log_batch(parent, metrics=metrics)
    client.set_terminated(parent)
