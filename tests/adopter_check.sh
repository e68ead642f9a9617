#!/usr/bin/env bash
# Adopter check: does the test suite pass on someone else's config?
#
# For each scenario, copies this checkout (committed files plus uncommitted edits and new files) into
# a fresh git repository under a temporary folder, edits config/*.yaml as an adopting team would,
# re-renders templates/ (generate.py) and runs generate.py --check and pytest there. Nothing here is
# written outside that folder; the venvs are reused through symlinks, never installed into.
#
#   tests/adopter_check.sh                 # every scenario, one after another
#   tests/adopter_check.sh rename staging  # only these
#   KEEP=1 tests/adopter_check.sh all      # keep the copies (their paths are printed)
#   PYTEST_ARGS="-x -k demo" tests/adopter_check.sh rename
#
# Scenarios (the edits in tests/support/adopter_edit.py):
#   rename     project.name, short_name, sagemaker_pipeline.name, the project tag and each env's repository changed
#   staging    an env "staging" added (a copy of the first env on another branch), listed second
#              (if config/ has one already: the first of qa, uat, preprod that it lacks)
#   notify     the first env's notification emails and statuses changed
#   drop-last  the last env removed (one env is left in the sample; skipped when config/ has only one)
#   drop-first the first env removed (likewise)
#   us-east-1  every env in us-east-1 (S3 takes no LocationConstraint there; skipped when an env is there already)
#   regions    each env in a region of its own that config/ does not use
#   all        drop-last (where there are two or more envs), rename, staging, notify at once, and each env moved to
#              a region of its own, the first to us-east-1
# Every edit changes a value to one config/ does not hold, so the check also works on an adopter's config.
# Exit status: 0 when every scenario passes; 1 otherwise (a summary line per scenario at the end).
set -uo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
PY="$(readlink -f "$SRC/.venv")/bin/python"
CHECKOV_VENV="$(readlink -f "$SRC/.venv-checkov" 2>/dev/null || true)"
SERVING_VENV="$(readlink -f "$SRC/.venv-serving" 2>/dev/null || true)"
[ -x "$PY" ] || { echo "adopter_check: $SRC/.venv/bin/python missing: run 'make dev-venv' first" >&2; exit 2; }

ALL_SCENARIOS=(rename staging notify drop-last drop-first us-east-1 regions all)
if [ $# -eq 0 ]; then set -- "${ALL_SCENARIOS[@]}"; fi
for s in "$@"; do
  case " ${ALL_SCENARIOS[*]} " in *" $s "*) ;; *) echo "adopter_check: unknown scenario '$s' (known: ${ALL_SCENARIOS[*]})" >&2; exit 2;; esac
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/adopter-check.XXXXXX")"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT

copy_checkout() {  # $1: destination. Committed tree + working-tree edits + untracked (not ignored) files.
  local dest="$1"
  mkdir -p "$dest"
  (cd "$SRC" && git ls-files -z --cached --others --exclude-standard \
     | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
     | tar --null -T - -cf -) | tar -xf - -C "$dest"
  ln -s "$(dirname "$(dirname "$PY")")" "$dest/.venv"
  [ -n "$CHECKOV_VENV" ] && ln -s "$CHECKOV_VENV" "$dest/.venv-checkov"
  [ -n "$SERVING_VENV" ] && ln -s "$SERVING_VENV" "$dest/.venv-serving"
  (cd "$dest" && git init -q && git add -A && git -c user.name=adopter -c user.email=adopter@example.org \
     commit -qm "adopter copy" --no-verify)
}

declare -A RESULT
for scenario in "$@"; do
  dest="$WORK/$scenario"
  echo "=== $scenario: $dest"
  copy_checkout "$dest"
  (cd "$dest" && "$PY" tests/support/adopter_edit.py "$scenario"); edited=$?
  if [ $edited -eq 3 ]; then RESULT[$scenario]="ok: not applicable to this config (skipped)"; continue; fi
  if [ $edited -ne 0 ]; then RESULT[$scenario]="edit failed"; continue; fi
  # The edited config must be one the product accepts, rendered afresh; stale env folders go.
  rm -rf "$dest"/templates/*/
  if ! (cd "$dest" && "$PY" generate.py >/dev/null && "$PY" generate.py --check); then RESULT[$scenario]="render failed"; continue; fi
  (cd "$dest" && git add -A && git -c user.name=adopter -c user.email=adopter@example.org commit -qm "$scenario" --no-verify)
  log="$WORK/$scenario.log"
  # shellcheck disable=SC2086
  (cd "$dest" && "$PY" -m pytest -q -n "${JOBS:-2}" ${PYTEST_ARGS:-} 2>&1) | tee "$log" | tail -n 40
  last="$(tail -n 1 "$log")"
  if [[ "$last" =~ [0-9]+\ passed ]] && ! [[ "$last" =~ (failed|error) ]]; then RESULT[$scenario]="ok: $last"
  else RESULT[$scenario]="FAIL: $last"; fi
done

echo
echo "=== adopter check summary"
status=0
for scenario in "$@"; do
  echo "$scenario: ${RESULT[$scenario]}"
  case "${RESULT[$scenario]}" in ok:*) ;; *) status=1;; esac
done
[ -n "${KEEP:-}" ] && echo "copies kept in $WORK"
exit $status
