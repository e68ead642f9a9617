"""IAM documents: statement building blocks (policies), the runtime roles' statements by kind of role
(runtime/), the deploy roles' policies (deploy_policies), the permissions boundaries computed from the
runtime statements (boundary) and the one way to make a service role (roles). Imports only infra.config
and infra.cfn: stacks hand nothing down; the statements live here and the stacks read them."""
