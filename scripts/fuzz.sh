#!/usr/bin/env bash
# Runs every native Go fuzz target of the repository briefly, so that the
# targets keep compiling, their seed corpora (f.Add and testdata/fuzz/) keep
# passing, and a little fresh input is tried on each run.
#
# Targets are discovered with `go test -list '^Fuzz'` in each package whose
# tests define one, so a new target is picked up without editing this file.
#
#   scripts/fuzz.sh                 # every target, a few seconds each
#   FUZZ_TIME=30s scripts/fuzz.sh   # longer per target
#   scripts/fuzz.sh ./internal/token/   # only these packages
#
# FUZZ_BUDGET (seconds, default 50) caps the fuzzing time of all targets
# together: with many targets each gets less than FUZZ_TIME, never under 2s.
# A failing input is written under the package's testdata/fuzz/<Target>/;
# commit it with the fix so it stays in the seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

per="${FUZZ_TIME:-5s}"
budget="${FUZZ_BUDGET:-50}"

if [ "$#" -gt 0 ]; then
  pkgs=("$@")
else
  # Packages whose test files declare a fuzz target; go test -list below
  # says which targets they really have.
  mapfile -t pkgs < <(git ls-files '*_test.go' 2>/dev/null | xargs grep -l '^func Fuzz[A-Za-z0-9_]*(' 2>/dev/null |
    xargs -r -n1 dirname | sort -u | sed 's|^|./|')
fi
if [ "${#pkgs[@]}" -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi

targets=()
for pkg in "${pkgs[@]}"; do
  while read -r name; do
    targets+=("$pkg $name")
  done < <(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
done
n="${#targets[@]}"
if [ "$n" -eq 0 ]; then
  echo "fuzz: no fuzz targets found in ${pkgs[*]}" >&2
  exit 1
fi

# Seconds per target: FUZZ_TIME, lowered so that all fit in FUZZ_BUDGET.
secs="${per%s}"
if [[ "$secs" =~ ^[0-9]+$ ]] && [ $((secs * n)) -gt "$budget" ]; then
  secs=$((budget / n))
  [ "$secs" -lt 2 ] && secs=2
  per="${secs}s"
fi

echo "fuzz: $n targets, $per each"
failed=0
for t in "${targets[@]}"; do
  pkg="${t% *}"
  name="${t#* }"
  start=$SECONDS
  # New inputs that only widen coverage are minimised for at most a few
  # runs, or a slow target spends its whole time minimising.
  if out="$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$per" -fuzzminimizetime 10x "$pkg" 2>&1)"; then
    echo "ok    $pkg $name ($((SECONDS - start))s)"
  else
    failed=$((failed + 1))
    echo "FAIL  $pkg $name ($((SECONDS - start))s)"
    echo "$out" | tail -n 40
  fi
done
if [ "$failed" -gt 0 ]; then
  echo "fuzz: $failed of $n targets failed" >&2
  exit 1
fi
echo "fuzz: all $n targets passed"
