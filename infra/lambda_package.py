"""`python -m infra.lambda_package OUT`: the Synth build's packaging step.

This path is part of every deployed delivery pipeline (the Synth buildspec inside the pipeline stack names
it, and a pipeline runs its old buildspec on a new push until it has updated itself), so it stays put; the
packaging itself lives in infra/output/lambda_package.py.
"""
import sys

from infra.output.lambda_package import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
