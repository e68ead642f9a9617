"""The runtime roles' statements, one module per kind of role (each kind has its own permissions boundary):
the single place both the IAM stack (which makes the roles) and the boundary (which caps them) read them from."""
