"""The entry layer: the command line read once, checked, claimed and launched (train.py, eval.py)."""
