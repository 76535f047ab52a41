"""Before a sweep's jobs start: the MLflow store and experiment they will share, made once.

Jobs that run at once (``launcher=parallel``) would each find a new store and experiment missing
and race to create them: SQLite's schema migrations collide ("Online migration expected to match
one row"), and the experiment's name is unique, so all but one job would fail. The launching
process creates both first, through MLflow's own client; the jobs then only open them.
"""

import logging

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def prepare_mlflow(config: DictConfig) -> None:
    """Create the MLflow experiment the sweep's ``logger.mlflow`` names (and its store), if it has one."""
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
    if client.get_experiment_by_name(name) is None:
        client.create_experiment(name)
        log.info("MLflow experiment %s created in %s", name, uri)
