#!/usr/bin/env bash
# Vendored reference files vs the team's reference directory (CDSHOOKS_SHARED_DIR or ../shared).
# Without that directory there is nothing to compare: say so and succeed (a public clone).
# With it: every vendored file must be byte-identical to its original, and the tests marked
# `shared` (re-deriving extracts such as tests/data/seed-tables.json) must run and pass.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${CDSHOOKS_SHARED_DIR:-../shared}"
if [[ ! -d "$shared" ]]; then
  echo "check-vendored: no reference directory at $shared; nothing to compare"
  exit 0
fi
bad=0
while IFS= read -r f; do
  rel="${f#vendor/}"
  if ! cmp -s "$f" "$shared/$rel"; then echo "check-vendored: $f differs from $shared/$rel" >&2; bad=1; fi
done < <(find vendor/cds-hooks-spec -name '*.json' | sort)
cmp -s tests/data/terminology.json "$shared/reference/terminology.json" \
  || { echo "check-vendored: tests/data/terminology.json differs from $shared/reference/terminology.json" >&2; bad=1; }
(( bad == 0 )) || exit 1
CDSHOOKS_SHARED_DIR="$(cd "$shared" && pwd)" CDSHOOKS_REQUIRE_SHARED=1 \
  .venv/bin/python -m pytest -q -p no:cacheprovider -m shared
echo "check-vendored: vendor/ and tests/data/ match $shared"
