#!/usr/bin/env bash
# Runs every protocol test file (those that start a server) again on the PostgreSQL store, except a file
# whose first line is `// test:pg skip — <why>` (behaviour that cannot depend on the store). Arguments go
# to `node --test` (e.g. --test-reporter=tap).
# Without a server on 127.0.0.1:5432 it skips, unless MAILKEEP_TEST_REQUIRE_PG is set (CI).
set -euo pipefail
if ! pg_isready -q -h 127.0.0.1 2>/dev/null; then
  if [ -n "${MAILKEEP_TEST_REQUIRE_PG:-}" ]; then echo "test:pg: PostgreSQL on 127.0.0.1:5432 is required but not running" >&2; exit 1; fi
  echo "test:pg: no PostgreSQL on 127.0.0.1:5432; the protocol suite on PostgreSQL is skipped"
  exit 0
fi
files=()
skipped=0
for f in $(grep -rl --include='*.test.js' startTestServer dist/test | sort); do
  if head -n1 "$f" | grep -q '^// test:pg skip'; then skipped=$((skipped + 1)); else files+=("$f"); fi
done
echo "test:pg: ${#files[@]} files on PostgreSQL, $skipped marked \`// test:pg skip\`" >&2
MAILKEEP_CHECK_VIEWS=1 MAILKEEP_TEST_STORE=postgres exec node --test --test-concurrency=2 "$@" "${files[@]}"
