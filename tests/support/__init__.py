"""Helpers the tests share: template loading and evaluation, policy evaluation, scanners, fixtures' support."""
