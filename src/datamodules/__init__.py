"""LightningDataModules: each serves ``train``/``val``/``test`` batches of ``(inputs, class index)``."""
