#!/usr/bin/env bash
# The whole test suite: set-up, type-check (part of the build), then every test file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-test-deps
# Format, lint (import cycles, unused exports and variables, line length) before any test runs.
npm run --silent lint
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
