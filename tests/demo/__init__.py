"""`make demo`: the approval-notification path rehearsed end to end on moto, no AWS account needed.

Run as `python -m tests.demo --env dev`. It lives under tests/ because it is a verification tool
that needs the dev requirements (moto, boto3, the SageMaker SDK); infra/ stays the generator.
"""
