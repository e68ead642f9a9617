"""Deployment pipeline, SmokeTest action: the staging endpoint serves the resolved version and answers the documented request."""
