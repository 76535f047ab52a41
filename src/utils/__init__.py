"""Glue between Hydra configs and Lightning objects, used by ``train.py``."""
