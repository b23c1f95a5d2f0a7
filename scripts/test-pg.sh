#!/usr/bin/env bash
# Runs every protocol test file (those that start a server) again on the PostgreSQL store.
# Without a server on 127.0.0.1:5432 it skips, unless MAILKEEP_TEST_REQUIRE_PG is set (CI).
set -euo pipefail
if ! pg_isready -q -h 127.0.0.1 2>/dev/null; then
  if [ -n "${MAILKEEP_TEST_REQUIRE_PG:-}" ]; then echo "test:pg: PostgreSQL on 127.0.0.1:5432 is required but not running" >&2; exit 1; fi
  echo "test:pg: no PostgreSQL on 127.0.0.1:5432; the protocol suite on PostgreSQL is skipped"
  exit 0
fi
MAILKEEP_CHECK_VIEWS=1 MAILKEEP_TEST_STORE=postgres exec node --test --test-concurrency=2 $(grep -rl --include='*.test.js' startTestServer dist/test | sort)
