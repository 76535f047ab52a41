"""Turn a run or sweep folder into the experiments' tables and figures: ``python -m src.report DIR``."""
