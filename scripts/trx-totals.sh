#!/usr/bin/env bash
# Sums the <Counters> of VSTest TRX files and prints one line: "N passed, N failed, N skipped".
#   failed  = failed + error + timeout + aborted  (every way a test can go wrong)
#   skipped = total - executed                    (xunit's skipped tests are counted in total but not executed)
# Exits 2 when a file cannot be read or holds no <Counters> (a test run that died before writing its summary),
# still printing the totals of the files it could read.
set -uo pipefail

passed=0 failed=0 skipped=0 status=0

# The value of attribute $2 in the element text $1, 0 when absent.
attribute() {
  local value
  value=$(printf '%s' "$1" | grep -o "[[:space:]]$2=\"[0-9]*\"" | head -n 1 | grep -o '[0-9][0-9]*')
  printf '%s' "${value:-0}"
}

for trx in "$@"; do
  if [[ ! -r "$trx" ]]; then
    echo "trx-totals: cannot read $trx" >&2
    status=2
    continue
  fi
  # The element may be wrapped over several lines; flatten the file first.
  counters=$(tr '\r\n\t' '   ' < "$trx" | grep -o '<Counters[[:space:]][^>]*>' | head -n 1)
  if [[ -z "$counters" ]]; then
    echo "trx-totals: no <Counters> in $trx" >&2
    status=2
    continue
  fi
  total=$(attribute "$counters" total)
  executed=$(attribute "$counters" executed)
  passed=$((passed + $(attribute "$counters" passed)))
  failed=$((failed + $(attribute "$counters" failed) + $(attribute "$counters" error) \
    + $(attribute "$counters" timeout) + $(attribute "$counters" aborted)))
  skipped=$((skipped + total - executed))
done

echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
