#!/usr/bin/env bash
# Run pytest separately in each package (as each repo's own CI would) and print one
# summary line per package, then a total line "N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py="$root/.venv/bin/python"
packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then
  # at-core, then the services from the one list of services (at_core.constants.SERVICES)
  mapfile -t services < <(sed -n 's/.*package="\(at-[a-z-]*\)".*/\1/p' "$root/at-core/src/at_core/constants.py")
  packages=(at-core "${services[@]}")
  [ -d "$root/e2e" ] && packages+=(e2e)
fi
total_passed=0; total_failed=0; status=0
summary=()
for pkg in "${packages[@]}"; do
  [ -d "$root/$pkg" ] || { echo "missing package $pkg" >&2; status=1; continue; }
  log="$root/.venv/test-$pkg.log"
  echo "=== pytest $pkg"
  (cd "$root/$pkg" && "$py" -m pytest -p no:cacheprovider 2>&1 | tee "$log")
  rc=${PIPESTATUS[0]}
  line=$(grep -E "^(=+ )?[0-9]+ (passed|failed|error)|no tests ran" "$log" | tail -1 | sed 's/=//g; s/^ *//; s/ *$//')
  passed=$(grep -oE "[0-9]+ passed" <<<"$line" | grep -oE "[0-9]+" || echo 0)
  failed=$(( $(grep -oE "[0-9]+ failed" <<<"$line" | grep -oE "[0-9]+" || echo 0) + $(grep -oE "[0-9]+ error" <<<"$line" | grep -oE "[0-9]+" || echo 0) ))
  total_passed=$((total_passed + passed)); total_failed=$((total_failed + failed))
  if [ "$rc" -ne 0 ]; then
    status=1
    [ "$rc" -eq 5 ] && line="no tests ran (a package must have tests)"
    summary+=("FAIL  $pkg: $line (exit $rc)")
  else
    summary+=("ok    $pkg: $line")
  fi
done
echo
echo "=== per-package summary"
printf '%s\n' "${summary[@]}"
echo "tests: $total_passed passed, $total_failed failed"
exit $status
