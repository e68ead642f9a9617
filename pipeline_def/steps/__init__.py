"""Scripts that run inside SageMaker containers; each file is uploaded and run on its own."""
