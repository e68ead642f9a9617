"""What the generator writes: every stack rendered per env (render), as CloudFormation YAML (PyYAML),
TemplateConfiguration files, Lambda zips keyed by their sources (lambda_package), written atomically
inside the output folder. Imports the stacks and what is below them."""
