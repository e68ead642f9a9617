"""Deployment pipeline, Resolve action: the newest Approved version of the model package group, from the registry."""
