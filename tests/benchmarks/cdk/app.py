"""The cheapest CDK app that synthesizes exactly our templates: one stack per rendered template, included
as it is (`CfnInclude`, L1 constructs). A real CDK app with L2 constructs does more work, so `cdk synth`
of this one is a floor for what CDK would cost us. tests/benchmarks/generator.py checks the output's
Resources equal the templates', then times it."""
import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import cloudformation_include

templates = Path(sys.argv[1])
app = cdk.App()
for template in sorted(templates.glob("*/*.yaml")):
    stack = cdk.Stack(app, f"{template.parent.name}-{template.stem}",
                      synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
    cloudformation_include.CfnInclude(stack, "Template", template_file=str(template))
app.synth()
