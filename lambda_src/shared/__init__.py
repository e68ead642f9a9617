"""Code every function zip carries: packaged as the top-level package `shared`."""
