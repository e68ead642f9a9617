"""The project's tests.

lambda_src/ goes on sys.path here, as Lambda's code root is: each function imports the code all of them share
as `shared.…`, the way its zip lays it out (infra/output/lambda_package.py). Anything under tests/ (pytest,
`python -m tests.demo`, `python -m tests.benchmarks`) imports this first.
"""
import sys
from pathlib import Path

_LAMBDA_SRC = str(Path(__file__).resolve().parent.parent / "lambda_src")
if _LAMBDA_SRC not in sys.path:
    sys.path.append(_LAMBDA_SRC)
