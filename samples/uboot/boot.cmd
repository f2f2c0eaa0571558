# ferry A/B selection for U-Boot (RAUC's variables), compile with:
#   mkimage -A arm -T script -C none -d boot.cmd boot.scr
# Environment (written by ferry through fw_setenv -c /etc/fw_env.config):
#   BOOT_ORDER="A B"   boot order, first tried first
#   BOOT_A_LEFT / BOOT_B_LEFT   boots left; ferry sets bootloader.attempts on
#                      install and on mark-good, 0 on mark-bad
# The first slot in BOOT_ORDER with tries left boots and loses one try.
test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
# The slots are partitions 2 and 3 of the device this script was loaded from: U-Boot's distro
# boot sets devtype and devnum (virtio 0 under QEMU, where a fixed "mmc 0" does not exist: found
# by running this script under Debian's u-boot-qemu, samples/vm/uboot-probe.sh); mmc 0 otherwise.
test -n "${devtype}" || setenv devtype mmc
test -n "${devnum}" || setenv devnum 0
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3

setenv bootargs
for BOOT_SLOT in "${BOOT_ORDER}"; do
  if test "x${bootargs}" != "x"; then
    # a slot was already chosen
  elif test "x${BOOT_SLOT}" = "xA"; then
    if test ${BOOT_A_LEFT} -gt 0; then
      setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
      setenv load_kernel "load ${devtype} ${devnum}:2 ${kernel_addr_r} /boot/Image"
      setenv bootargs "root=PARTLABEL=rootfs-a ro rootwait ferry.slot=A"
    fi
  elif test "x${BOOT_SLOT}" = "xB"; then
    if test ${BOOT_B_LEFT} -gt 0; then
      setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
      setenv load_kernel "load ${devtype} ${devnum}:3 ${kernel_addr_r} /boot/Image"
      setenv bootargs "root=PARTLABEL=rootfs-b ro rootwait ferry.slot=B"
    fi
  fi
done

if test -n "${bootargs}"; then
  saveenv
else
  # No slot has tries left. Unlike RAUC's sample (which resets both slots), give tries
  # back only to the FIRST slot of BOOT_ORDER: ferry keeps the last good slot first
  # whenever it marks a slot bad, so a half-written or failed slot is never resurrected.
  setenv FERRY_FIRST
  for BOOT_SLOT in "${BOOT_ORDER}"; do
    test -n "${FERRY_FIRST}" || setenv FERRY_FIRST ${BOOT_SLOT}
  done
  echo "no slot has tries left: giving slot ${FERRY_FIRST} 3 more tries"
  test "x${FERRY_FIRST}" = "xA" && setenv BOOT_A_LEFT 3
  test "x${FERRY_FIRST}" = "xB" && setenv BOOT_B_LEFT 3
  setenv FERRY_FIRST
  saveenv
  reset
fi

run load_kernel
# The device tree U-Boot itself runs with (${fdtcontroladdr}: the board's, or QEMU's): nothing
# loads one to ${fdt_addr_r} before a boot script, and booti with an empty fdt_addr_r hands the
# kernel garbage (under Debian's u-boot-qemu it reset the machine: samples/vm/uboot-probe.sh).
booti ${kernel_addr_r} - ${fdtcontroladdr}
