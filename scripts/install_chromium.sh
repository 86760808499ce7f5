#!/bin/sh
# Install Debian's chromium for the browser test, if it is missing.
# As root (CI, a fresh machine) it is installed with apt-get; otherwise we say
# how, and the browser test skips locally (it fails in CI, where CI=true).
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser test..."
    apt-get update -q >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null &&
        exit 0
    echo "apt-get could not install chromium" >&2
    exit 1
fi
echo "Note: /usr/bin/chromium is missing; the browser test will be skipped."
echo "      Install it with: sudo apt-get install chromium"
