"""Code every function uses, kept once: the packager (infra/output/lambda_package.py) puts this folder into
each function's zip beside the function's own, so a function imports it as `shared.…` in Lambda and in tests."""
