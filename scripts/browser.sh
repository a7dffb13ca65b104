#!/usr/bin/env bash
# Makes sure headless Chromium and its WebDriver server are installed, from the distribution's
# packages, for the browser tests (hookpost_testkit::browser). `make browser` runs it; `make test`
# runs that before the integration tests.
#
# A no-op taking milliseconds when both commands are on PATH. Otherwise, on Debian or Ubuntu, it
# installs `chromium` and `chromium-driver` with apt (through sudo when not root), and fails naming
# the packages when it cannot. Nothing is downloaded from anywhere but the distribution's archive.
#
#   scripts/browser.sh            install or verify
#   scripts/browser.sh --check    only verify; exit 1 naming what is missing
set -euo pipefail

PACKAGES=(chromium chromium-driver)

mode="${1:-}"
case "$mode" in
  "" | --check) ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

log() { printf 'browser: %s\n' "$*" >&2; }
die() { printf 'browser: error: %s\n' "$*" >&2; exit 1; }

installed() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }

if installed; then
  exit 0
fi

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=("chromedriver (package chromium-driver)")
[ "$mode" = --check ] && die "missing ${missing[*]}; run scripts/browser.sh to install ${PACKAGES[*]}"

command -v apt-get >/dev/null \
  || die "missing ${missing[*]} and no apt-get here; install the packages ${PACKAGES[*]} (or your system's Chromium and its chromedriver) yourself"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "missing ${missing[*]}; installing ${PACKAGES[*]} needs root and there is no sudo"
  # No password prompt from a non-interactive run (CI has no stdin): fail instead.
  if [ -t 0 ]; then sudo=(sudo); else sudo=(sudo -n); fi
fi

# apt-get itself serialises on the dpkg lock; two make targets installing at once wait for it.
start=$(date +%s)
log "installing ${PACKAGES[*]} from the distribution's packages (missing ${missing[*]})"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq \
  || die "apt-get update failed; install ${PACKAGES[*]} yourself"
"${sudo[@]}" apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${PACKAGES[@]}" >/dev/null \
  || die "apt-get install ${PACKAGES[*]} failed; install them yourself"

installed || die "installed ${PACKAGES[*]} but chromium or chromedriver is still not on PATH"
log "ready in $(($(date +%s) - start))s: $(chromium --version 2>/dev/null), $(chromedriver --version | cut -d' ' -f1-2)"
