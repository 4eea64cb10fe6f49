#!/usr/bin/env bash
# `npm run lint`: ESLint (type-aware rules), Prettier's check, and the native and shell linters
# (scripts/lint-native.sh: clang-format, cpplint, shellcheck). Every check runs, also after one fails;
# each ends with a line "ok  NAME" or "FAIL NAME", which .ci/run counts, and the status is 1 when any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
status=0
run() { # name, command...
  local name=$1
  shift
  if "$@"; then
    echo "ok  $name"
  else
    echo "FAIL $name"
    status=1
  fi
}
run "eslint" npx --no -- eslint .
run "prettier --check" npx --no -- prettier --check --log-level warn .
run "native and shell (clang-format, cpplint, shellcheck)" bash scripts/lint-native.sh
exit "$status"
