#!/usr/bin/env bash
# Run a command as a fresh machine would see it: the optional Debian packages that
# `make install-system` adds (Noto fonts and colour emoji, Chromium, exiftool, PostgreSQL)
# hidden in a private mount namespace, this machine's files untouched. Needs root (unshare -m).
#   bash .ci/fresh_machine.sh              # make test
#   bash .ci/fresh_machine.sh pytest-args  # e.g. .venv/bin/python -m pytest tests/test_languages.py
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "fresh_machine.sh needs root (unshare -m): sudo bash $0 $*" >&2; exit 2; }
[ $# -gt 0 ] || set -- make test
empty=$(mktemp -d)
trap 'rmdir "$empty"' EXIT
# Folders hidden behind an empty one, programs behind /dev/null (not executable: `which` finds none).
unshare -m sh -c '
  empty=$1; shift
  for folder in /usr/share/fonts/truetype/noto /usr/share/fonts/opentype/noto /usr/lib/postgresql; do
    [ -d "$folder" ] && mount --bind "$empty" "$folder"
  done
  for program in /usr/bin/chromium /usr/bin/exiftool; do
    [ -e "$program" ] && mount --bind /dev/null "$program"
  done
  exec "$@"' sh "$empty" "$@"
