#!/usr/bin/env bash
# Make a headless Chromium available to the Mirror's browser tests (tests/browser.py).
#
# Playwright's own browser download is not used (it needs the network at test time and a
# browser build per Playwright release); the tests drive Debian's `chromium` through
# Playwright's `executable_path`. This script installs that package when no Chromium is found
# and we are root with apt-get. It prints one line and never fails the build: without a
# browser the browser tests skip, saying why.
# IFNS_CHROMIUM names a browser to use instead (as in tests/browser.py).
set -u

say() { echo "ensure-chromium: $*"; }

find_chromium() {
    local c
    for c in "${IFNS_CHROMIUM-}" chromium chromium-browser google-chrome; do
        [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && { command -v "$c"; return 0; }
    done
    return 1
}

if found=$(find_chromium); then
    say "Chromium found ($found), nothing to install"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "Chromium not found and not root with apt-get: not installing; the browser tests" \
        "will skip (install Debian's chromium, or set IFNS_CHROMIUM to a Chromium binary)"
    exit 0
fi

. "$(dirname "$0")/apt-install.sh"
apt_install_package chromium "the browser tests" find_chromium
exit 0
