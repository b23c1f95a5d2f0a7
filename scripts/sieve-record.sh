#!/usr/bin/env bash
# Re-records Pigeonhole's answers for the Sieve differential corpus
# (test/helpers/sieve-cases.ts -> test/fixtures/sieve/pigeonhole.json).
# Needs sieve-test (Debian dovecot-sieve) and root (sieve-test drops to the mail user).
# To compare a live sieve-test with the recording instead:
#   MAILKEEP_SIEVE_LIVE=1 node --test dist/test/sieve-differential.test.js
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
node dist/test/sieve-record.js
