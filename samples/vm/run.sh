#!/usr/bin/env bash
# Boots ferry's virtual kiosk (built by samples/vm/build-image.sh) with qemu-system-x86_64:
#   run.sh [--disk IMG] [--stick IMG] [--qmp SOCKET] [--uefi-vars FILE]
# The serial console is on stdout; `ferry-vm:` lines report what the kiosk does. KVM is
# used when it really works (probed), else TCG. --stick attaches a USB stick (qemu-xhci +
# usb-storage, QOM id "stick", block node "stickimg"); --qmp opens a QMP socket.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DISK="$HERE/disk.img" STICK= QMP= VARS=
FLAVOUR="$(cat "$HERE/flavour" 2>/dev/null || echo bios)"
while [ $# -gt 0 ]; do
  case "$1" in
    --disk) DISK="$2"; shift 2 ;;
    --stick) STICK="$2"; shift 2 ;;
    --qmp) QMP="$2"; shift 2 ;;
    --uefi-vars) VARS="$2"; shift 2 ;;
    *) echo "usage: run.sh [--disk IMG] [--stick IMG] [--qmp SOCKET] [--uefi-vars FILE]" >&2; exit 2 ;;
  esac
done
# /dev/kvm may exist and still fail (no nested virtualisation: QEMU aborts setting MSRs),
# so start a real VM for an instant with KVM and keep it only if that worked.
accel=tcg
if [ -z "${FERRY_VM_ACCEL:-}" ] && [ -w /dev/kvm ]; then
  if echo quit | timeout 20 qemu-system-x86_64 -accel kvm -machine pc -m 64 -display none -nodefaults -monitor stdio >/dev/null 2>&1; then accel=kvm; fi
fi
accel="${FERRY_VM_ACCEL:-$accel}"
# One virtual CPU: with -smp 2 under multi-threaded TCG the guest kernel once locked up for
# good (CPU 1 spinning in the kernel for ferry's main thread while CPU 0 stayed responsive:
# a cross-CPU call that never completed), and a kiosk needs no second CPU. One CPU also
# means one host core per VM on a shared machine.
args=(-machine pc -accel "$accel" -m 1024 -smp 1 -display none -vga none -nodefaults -no-user-config
  -serial stdio -monitor none
  -drive "file=$DISK,format=raw,if=virtio,cache=unsafe"
  -device qemu-xhci,id=xhci)
if [ "$FLAVOUR" = uefi ]; then
  [ -n "$VARS" ] || VARS="$HERE/OVMF_VARS.fd"
  [ -f "$VARS" ] || cp /usr/share/OVMF/OVMF_VARS_4M.fd "$VARS"
  args+=(-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd -drive "if=pflash,format=raw,file=$VARS")
fi
if [ -n "$STICK" ]; then
  args+=(-blockdev "driver=file,filename=$STICK,node-name=stickfile,cache.direct=off"
    -blockdev driver=raw,file=stickfile,node-name=stickimg
    -device usb-storage,bus=xhci.0,drive=stickimg,id=stick,removable=on)
fi
[ -z "$QMP" ] || args+=(-qmp "unix:$QMP,server=on,wait=off")
exec qemu-system-x86_64 "${args[@]}"
