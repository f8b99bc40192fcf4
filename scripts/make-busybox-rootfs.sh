#!/usr/bin/env bash
# Makes a minimal busybox root filesystem tarball from Debian's busybox-static, for
# `berth import` / `docker import`: these machines reach no public registry, so tests,
# demos and benchmarks build their base image from it.
#
#   scripts/make-busybox-rootfs.sh OUT.tar
#
# The tarball is deterministic (sorted names, fixed mtime, uid/gid 0, fixed modes), so the
# same busybox binary always gives the same layer digest and so the same image ID.
set -euo pipefail

usage() { echo "usage: $0 OUT.tar" >&2; exit 2; }
[ $# -eq 1 ] || usage
out=$1

busybox=${BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ]; then
  echo "$0: $busybox not found: install Debian's busybox-static (scripts/setup.sh does)" >&2
  exit 1
fi
# A dynamically linked busybox would need the host's libc inside the image.
if [[ "$(LC_ALL=C "$busybox" 2>&1 || true)" != BusyBox* ]]; then
  echo "$0: $busybox is not a busybox binary" >&2
  exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/berth-busybox-rootfs.XXXXXX")
tmp_out=
cleanup() { rm -rf "$stage"; [ -z "$tmp_out" ] || rm -f "$tmp_out"; }
trap cleanup EXIT

# Explicit modes everywhere, so the caller's umask cannot change the digest.
install -d -m 0755 "$stage"/{bin,dev,etc,home,proc,sys,usr,usr/bin,usr/sbin,var,var/spool,var/spool/mail,var/www}
install -d -m 0700 "$stage/root"
install -d -m 1777 "$stage/tmp"
install -m 0755 "$busybox" "$stage/bin/busybox"

# Every applet as a symlink in /bin (sh among them), as in Docker Hub's busybox image;
# the default PATH contains /bin.
while IFS= read -r applet; do
  if [ -z "$applet" ] || [ "$applet" = busybox ]; then continue; fi
  ln -s busybox "$stage/bin/$applet"
done < <("$busybox" --list)
[ -e "$stage/bin/sh" ] || ln -s busybox "$stage/bin/sh"

# The same accounts as Docker Hub's busybox image, so `--user nobody` / `daemon` resolve.
cat > "$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat > "$stage/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
EOF
cat > "$stage/etc/shadow" <<'EOF'
root:*:10933:0:99999:7:::
daemon:*:10933:0:99999:7:::
bin:*:10933:0:99999:7:::
sys:*:10933:0:99999:7:::
sync:*:10933:0:99999:7:::
mail:*:10933:0:99999:7:::
www-data:*:10933:0:99999:7:::
operator:*:10933:0:99999:7:::
nobody:*:10933:0:99999:7:::
EOF
chmod 0644 "$stage/etc/passwd" "$stage/etc/group"
chmod 0640 "$stage/etc/shadow"
# No /etc/hostname, /etc/hosts or /etc/resolv.conf: the engine provides them per container.

mkdir -p "$(dirname -- "$out")"
tmp_out=$(mktemp "$(dirname -- "$out")/.$(basename -- "$out").XXXXXX")
# Names without a leading "./", as `docker export` writes them; gnu format has no
# atime/ctime headers, so nothing time-dependent gets in.
(cd "$stage" && LC_ALL=C tar --create --file=- --format=gnu --sort=name \
  --owner=0 --group=0 --numeric-owner --mtime='@0' \
  bin dev etc home proc root sys tmp usr var) > "$tmp_out"
chmod 0644 "$tmp_out"
mv -f "$tmp_out" "$out"
tmp_out=
echo "$out"
