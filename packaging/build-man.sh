#!/bin/sh
# Renders the man pages: docs/man/<name>.md (the one source, read as Markdown on GitHub too) to
# roff in dist/man/<name>.<section> with marked-man. A page whose NAME section lists more names
# ("hadown, haup, ... - ...") gets a one-line `.so` page for each other name, so `man haup`
# shows hadown(1) (npm installs every file package.json "man" lists; the Debian package turns
# them into symlinks, as Debian policy 12.1 prefers). Run by `npm run build:man`, prepack and
# the .deb build; the output is never committed. Usage: build-man.sh [OUT_DIR] (default dist/man).
set -eu
out=$(realpath -m "${1:-dist/man}")
cd "$(dirname "$0")/.."
rm -rf "$out"
mkdir -p "$out"
version=$(node -p 'require("./package.json").version')
# Reproducible dates: the last commit that touched a page, else now.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct -- docs/man 2>/dev/null || true)
  [ -n "$SOURCE_DATE_EPOCH" ] || SOURCE_DATE_EPOCH=$(date +%s)
fi
export SOURCE_DATE_EPOCH
for src in docs/man/*.md; do
  head=$(head -n 1 "$src")              # "# name(section) -- description"
  name=${head#\# }
  name=${name%%(*}
  section=${head#*(}
  section=${section%%)*}
  node_modules/.bin/marked-man --no-breaks --version "hacheck $version" --manual "hacheck manual" "$src" > "$out/$name.$section"
  aliases=$(sed -n '/^## NAME$/,/^## [A-Z]/{/^[a-z]/p;}' "$src" | sed 's/ - .*//' | tr ',' ' ')
  for alias in $aliases; do
    [ "$alias" = "$name" ] || printf '.so man%s/%s.%s\n' "$section" "$name" "$section" > "$out/$alias.$section"
  done
done
