"""The configuration layer: config/*.yaml, described once in schema.py, read and checked into a Project (read.py,
loader.py, model.py), every AWS name derived from it (names.py), and the regions it may name (regions.py). Imports
nothing else of infra.

`from infra import config; config.load()` is the public face; modules of this package import each other by
their own paths (never this __init__), so the package has no cycle.
"""
from infra.config.loader import MAX_STACK_TAGS, load, subscription_logical_id
from infra.config.model import CONFIG_DIR, ConfigError, Deployment, Environment, Project, Source
from infra.config.read import MAX_CONFIG_BYTES, read_yaml

__all__ = ["CONFIG_DIR", "MAX_CONFIG_BYTES", "MAX_STACK_TAGS", "ConfigError", "Deployment", "Environment", "Project", "Source", "load",
           "read_yaml", "subscription_logical_id"]
