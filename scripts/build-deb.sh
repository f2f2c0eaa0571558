#!/usr/bin/env bash
# `npm run build:deb [-- --arch arm64]`: dist/ferry_<version>_<arch>.deb from the single executable
# (npm run build:device runs first), with dpkg-deb only:
#   /usr/bin/ferry, /usr/bin/ferry-tui -> ferry, the systemd units and the udev rule from samples/,
#   /etc/ferry/device.json.example, /usr/share/doc/ferry/ (README, copyright, changelog), and man
#   pages generated from the commander help (ferry.1, ferry-device.1, ferry-tui.1).
# The maintainer scripts enable ferry-boot-check.service (it runs at the next boot) and never start
# anything: installing the package must not update, reboot or take tty1.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=x64
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="$2"; shift 2 ;;
    *) echo "build-deb: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$arch" in
  x64) debarch=amd64; exe=dist/device/ferry ;;
  arm64) debarch=arm64; exe=dist/device/arm64/ferry ;;
  *) echo "build-deb: --arch must be x64 or arm64" >&2; exit 2 ;;
esac
[ -x "$exe" ] || { echo "build-deb: $exe is missing: run npm run build:device${arch:+ -- --arch $arch} first" >&2; exit 1; }
maintainer="${FERRY_DEB_MAINTAINER:-ferry maintainers <ferry-maintainers@example.org>}"
version="$(node -p 'require("./package.json").version')"
# reproducible: every timestamp is the last commit's
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
pkg="dist/deb/ferry_${version}_${debarch}"
rm -rf "$pkg"
umask 022
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/lib/udev/rules.d" "$pkg/etc/ferry" \
  "$pkg/usr/share/doc/ferry" "$pkg/usr/share/man/man1"
install -m 0755 "$exe" "$pkg/usr/bin/ferry"
ln -s ferry "$pkg/usr/bin/ferry-tui"
install -m 0644 samples/systemd/*.service "$pkg/lib/systemd/system/"
install -m 0644 samples/udev/99-ferry.rules "$pkg/lib/udev/rules.d/"
install -m 0644 samples/device/device.json "$pkg/etc/ferry/device.json.example"

doc="$pkg/usr/share/doc/ferry"
gzip -9n < README.md > "$doc/README.md.gz"
cat > "$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ferry
Comment: /usr/bin/ferry is a Node.js single executable application: the Node.js
 runtime with ferry and the JavaScript packages it uses (commander, blessed,
 node-forge, tar-stream) bundled into it.

Files: *
Copyright: 2026 the ferry authors
License: Apache-2.0

Files: usr/bin/ferry
Copyright: 2026 the ferry authors, Node.js contributors and the npm package authors named above
License: Apache-2.0 and MIT and BSD-3-Clause
Comment: Node.js is MIT licensed and bundles components under their own
 licences (V8: BSD-3-Clause; OpenSSL: Apache-2.0; ICU: Unicode; libuv: MIT;
 zlib: Zlib); blessed, commander and tar-stream are MIT; node-forge is
 BSD-3-Clause or GPL-2.0.

License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.

License: BSD-3-Clause
 Redistribution and use in source and binary forms, with or without
 modification, are permitted provided that the following conditions are met:
 1. Redistributions of source code must retain the above copyright notice,
 this list of conditions and the following disclaimer.
 2. Redistributions in binary form must reproduce the above copyright notice,
 this list of conditions and the following disclaimer in the documentation
 and/or other materials provided with the distribution.
 3. Neither the name of the copyright holder nor the names of its
 contributors may be used to endorse or promote products derived from this
 software without specific prior written permission.
 .
 THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS AS IS AND
 ANY EXPRESS OR IMPLIED WARRANTIES ARE DISCLAIMED.
EOF

# /usr/bin/ferry is a Node.js single executable: the runtime links its own zlib (and is built
# without PIE); that is what such an executable is, so the override says so rather than hide it.
install -d "$pkg/usr/share/lintian/overrides"
printf '%s\n' '# Node.js single executable application: Node.js links its own zlib' 'ferry: embedded-library zlib [usr/bin/ferry]' \
  > "$pkg/usr/share/lintian/overrides/ferry"
changelog_date="$(date -u -d "@$SOURCE_DATE_EPOCH" -R)"
printf 'ferry (%s) unstable; urgency=medium\n\n  * Built from the ferry repository (npm run build:deb).\n\n -- %s  %s\n' \
  "$version" "$maintainer" "$changelog_date" | gzip -9n > "$doc/changelog.gz"

node dist/scripts/gen-man.js "$exe" "$pkg/usr/share/man/man1" "$version"
gzip -9n "$pkg"/usr/share/man/man1/*.1

cat > "$pkg/DEBIAN/conffiles" <<EOF
/etc/ferry/device.json.example
EOF
installed_kib="$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)"
cat > "$pkg/DEBIAN/control" <<EOF
Package: ferry
Version: $version
Architecture: $debarch
Maintainer: $maintainer
Installed-Size: $installed_kib
Depends: libc6 (>= 2.28), libstdc++6 (>= 10), libgcc-s1
Recommends: grub-common | libubootenv-tool, e2fsprogs, mount
Section: admin
Priority: optional
Homepage: https://nodejs.org/api/single-executable-applications.html
Description: verified offline A/B OS updates from signed USB media
 ferry carries bootable OS images across the air gap. On the device,
 ferry device and the keyboard-only terminal UI ferry-tui verify a signed
 OCI stick offline and apply an A/B update: write the inactive slot, switch
 the bootloader to try it, commit on a healthy boot, roll back on a bad one.
 .
 This package ships the single executable (Node.js runtime included), the
 boot-check and terminal UI systemd units and the udev rule that starts the
 UI when a stick labelled FERRY is plugged in.
EOF

# Enable the boot check so it runs at the next boot; start nothing now (debhelper's systemd snippets, without starting).
cat > "$pkg/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
	if deb-systemd-helper debian-installed 'ferry-boot-check.service' >/dev/null 2>&1 || [ -z "$2" ]; then
		deb-systemd-helper unmask 'ferry-boot-check.service' >/dev/null || true
		deb-systemd-helper enable 'ferry-boot-check.service' >/dev/null || true
	else
		deb-systemd-helper update-state 'ferry-boot-check.service' >/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
	fi
	if [ -d /run/udev ]; then
		udevadm control --reload-rules >/dev/null 2>&1 || true
	fi
fi
EOF
cat > "$pkg/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
	if [ -x "/usr/bin/deb-systemd-helper" ]; then
		deb-systemd-helper purge 'ferry-boot-check.service' >/dev/null || true
		deb-systemd-helper unmask 'ferry-boot-check.service' >/dev/null || true
	fi
fi
if [ "$1" = "remove" ]; then
	if [ -x "/usr/bin/deb-systemd-helper" ]; then
		deb-systemd-helper mask 'ferry-boot-check.service' >/dev/null || true
	fi
fi
EOF
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/postrm"

(cd "$pkg" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
out="dist/ferry_${version}_${debarch}.deb"
# gzip by default: xz takes minutes on the 110 MB executable (FERRY_DEB_COMPRESSION=xz for a release)
dpkg-deb --root-owner-group -Z"${FERRY_DEB_COMPRESSION:-gzip}" --build "$pkg" "$out" >/dev/null
echo "$out"
