"""CloudFormation building blocks every stack uses: a new template (templates_common), the parameters a
template declares and their values per env (parameters), exports and imports (exports), the source-type
conditions (source) and scanner skips (scanner_skips).
Imports only infra.config."""
