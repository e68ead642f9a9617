"""The SageMaker model-build pipeline (SDK 2.x): definition, offline render, upsert. See docs/sagemaker-pipeline.md."""
