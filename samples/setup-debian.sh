#!/usr/bin/env bash
# Installs the Debian tools ferry's demo and tests use (real skopeo, umoci, openssl,
# grub-editenv, fw_printenv, mkfs.ext4, tmux, zstd, rauc, debootstrap, chromium), only those missing.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have skopeo || need+=(skopeo)
have umoci || need+=(umoci)
have openssl || need+=(openssl)
have grub-editenv || need+=(grub-common)
have fw_printenv || need+=(libubootenv-tool)
have mkfs.ext4 || need+=(e2fsprogs)
have mkfs.vfat || need+=(dosfstools)        # tests: a real FAT32 stick (4 GiB file limit)
have fusefat || need+=(fusefat)              # tests: mounts that FAT32 stick where the kernel has no vfat driver
have tmux || need+=(tmux)
have zstd || need+=(zstd)
have setfattr || need+=(attr)
have setcap || need+=(libcap2-bin)
have losetup || need+=(mount)
have tar || need+=(tar)
have /usr/bin/time || need+=(time)            # bench: peak RSS (GNU time %M)
have mksquashfs || need+=(squashfs-tools)     # bench: rauc bundle peer
[ "${FERRY_SKIP_RAUC:-}" = 1 ] || have rauc || need+=(rauc)
have dbus-daemon || need+=(dbus-daemon)        # device tests: a private bus for the rauc service (grubenv interop)
have systemd-analyze || need+=(systemd)        # tests: systemd-analyze verify of the shipped units
have debootstrap || need+=(debootstrap)        # tests: a Debian minbase root without Node for the device executable
have strip || need+=(binutils)                 # build:device strips the node binary's symbols
have tic || need+=(ncurses-bin)                # build:device compiles the TUI's terminfo entries
have lintian || need+=(lintian)                # tests: the .deb passes lintian
have podman || need+=(podman)                  # tests: podman build of samples/bootc/Containerfile
have docker-registry || need+=(docker-registry) # tests: a real registry for docker:// export and push (started by the tests, never the service)
have htpasswd || need+=(apache2-utils)         # tests: the registry's htpasswd basic auth
have chromium || need+=(chromium)              # tests: the HTML receipts report in a real headless browser
# the virtual kiosk (samples/vm, npm run test:vm): QEMU, real GRUB (BIOS and EFI), OVMF, a busybox userland
have qemu-system-x86_64 || need+=(qemu-system-x86)
have qemu-img || need+=(qemu-utils)
[ -d /usr/lib/grub/i386-pc ] || need+=(grub-pc-bin)
[ -d /usr/lib/grub/x86_64-efi ] || need+=(grub-efi-amd64-bin)
have grub-install || need+=(grub2-common)
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need+=(ovmf)
[ -x /bin/busybox ] && busybox --list | grep -qx findfs || need+=(busybox-static)
have mcopy || need+=(mtools)
have sfdisk || need+=(fdisk)
have debugfs || need+=(e2fsprogs)
if [ "${FERRY_SETUP_UBOOT:-}" = 1 ]; then # only for samples/vm/uboot-probe.sh (boot.cmd under a real U-Boot)
  have qemu-system-aarch64 || need+=(qemu-system-arm)
  [ -f /usr/lib/u-boot/qemu_arm64/u-boot.bin ] || need+=(u-boot-qemu)
  have mkimage || need+=(u-boot-tools)
fi
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
if [ ${#need[@]} -eq 0 ]; then echo "setup-debian: all tools present"
else
  echo "setup-debian: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# the virtual kiosk's kernel: Debian's package, downloaded into /var/cache/ferry-vm, never installed
$SUDO bash "$(dirname "$0")/vm/fetch-kernel.sh" >/dev/null
