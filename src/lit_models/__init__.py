"""The LightningModules: the shared Classifier and each experiment's own thin subclass."""
