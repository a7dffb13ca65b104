#!/usr/bin/env bash
# `make fuzz`: builds the fuzz targets and runs each for FUZZ_SECONDS (default 60), at the lowest
# CPU priority, on its corpus in fuzz/corpus/<target>/ (committed; new finds are added to it).
# Prints one line per target: seconds, executions, corpus size; exits non-zero if any target
# crashed (the crashing input is in fuzz/artifacts/<target>/).
#
#   FUZZ_SECONDS=600 make fuzz           longer runs
#   FUZZ_TARGETS="signatures" make fuzz  one target
#
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept
# them. The sanitizer is off: the crates forbid unsafe code, so what is sought is panics.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
TARGETS="${FUZZ_TARGETS:-signatures envelope parsers apigw_event}"
# Minimise a corpus with cmin once it holds more files than this.
CMIN_ABOVE="${FUZZ_CMIN_ABOVE:-300}"
TOOLS="$ROOT/.tools"
export PATH="$TOOLS/bin:$PATH"
export RUSTC_BOOTSTRAP=1
FUZZ=(nice -n 19 cargo fuzz)

if ! command -v cargo-fuzz >/dev/null; then
  echo "==> installing cargo-fuzz into .tools (once)"
  nice -n 19 cargo install --locked --root "$TOOLS" cargo-fuzz
fi

"${FUZZ[@]}" build --sanitizer none

mkdir -p fuzz/logs
summary=()
failed=0
for target in $TARGETS; do
  log="fuzz/logs/$target.log"
  echo "==> fuzz $target for ${SECONDS_EACH}s (log: $log)"
  case "$target" in
    parsers) max_len=512 ;;
    envelope) max_len=2048 ;;
    *) max_len=4096 ;;
  esac
  if "${FUZZ[@]}" run --sanitizer none "$target" -- \
      -max_total_time="$SECONDS_EACH" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 \
      >"$log" 2>&1; then
    status=ok
  else
    status=CRASHED
    failed=1
    grep -E "panicked at|^SUMMARY|Test unit written" "$log" >&2 || tail -20 "$log" >&2
  fi
  files=$(find "fuzz/corpus/$target" -type f | wc -l)
  if [ "$files" -gt "$CMIN_ABOVE" ]; then
    echo "==> cmin $target ($files files)"
    # Edges only (no hit counters), smallest covering set: a few hundred files, not thousands.
    "${FUZZ[@]}" cmin --sanitizer none "$target" -- -set_cover_merge=1 -use_counters=0 \
      >>"$log" 2>&1
    files=$(find "fuzz/corpus/$target" -type f | wc -l)
  fi
  execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" | tail -1)
  summary+=("$(printf '%-12s %6ss %12s execs %6s corpus files  %s' \
    "$target" "$SECONDS_EACH" "${execs:-?}" "$files" "$status")")
done

echo "==> fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
