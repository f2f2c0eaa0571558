#!/usr/bin/env bash
# Boots ferry's virtual kiosk (built by samples/vm/build-image.sh) with qemu-system-x86_64:
#   run.sh [--disk IMG] [--stick IMG] [--qmp SOCKET] [--uefi-vars FILE]
# The serial console is on stdout; `ferry-vm:` lines report what the kiosk does.
# QEMU runs under TCG (KVM only on request: FERRY_VM_ACCEL=kvm or auto). --stick attaches a USB stick (qemu-xhci +
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
# TCG unless FERRY_VM_ACCEL says otherwise (tcg, kvm, or auto: KVM when a probe guest runs).
# KVM is not the default because /dev/kvm cannot be trusted here: on the machines of 2026-12-01
# it was absent or QEMU aborted setting MSRs; on the one of 2026-12-02 a KVM guest sometimes ran
# (a probe passed once, the kiosk then wrote to its disk) and mostly never ran an instruction
# (a kernel printed nothing in 40 s, the snapshot boot of test:vm timed out, the probe below
# failed 9 times in a row), with "host doesn't support requested feature: CPUID.01H:ECX.pni".
# The VM tests' timeouts are set for TCG, so TCG is what they get.
# auto's probe runs guest code: a boot sector that writes 0x31 to QEMU's isa-debug-exit port,
# which makes QEMU exit with status (0x31 << 1) | 1 = 99; KVM is kept only if that happened.
probe_kvm() {
  local dir rc
  dir="$(mktemp -d)"
  # mov al,0x31; out 0xf4,al; hlt; jmp $  ...  0x55aa
  printf '\xb0\x31\xe6\xf4\xf4\xeb\xfe' > "$dir/boot.bin"
  truncate -s 510 "$dir/boot.bin" && printf '\x55\xaa' >> "$dir/boot.bin"
  rc=0
  timeout 15 qemu-system-x86_64 -machine pc -accel kvm -m 16 -display none -nodefaults -no-user-config \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -drive "file=$dir/boot.bin,format=raw,if=floppy" >/dev/null 2>&1 || rc=$?
  rm -rf "$dir"
  [ "$rc" = 99 ]
}
accel="${FERRY_VM_ACCEL:-tcg}"
if [ "$accel" = auto ]; then
  accel=tcg
  if [ -w /dev/kvm ] && probe_kvm; then accel=kvm; fi
fi
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
