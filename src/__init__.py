"""Lightning + Hydra experiment framework: networks, datamodules and the training glue."""
