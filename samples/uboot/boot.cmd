# ferry A/B selection for U-Boot (RAUC's variables), compile with:
#   mkimage -A arm -T script -C none -d boot.cmd boot.scr
# Environment (written by ferry through fw_setenv -c /etc/fw_env.config):
#   BOOT_ORDER="A B"   boot order, first tried first
#   BOOT_A_LEFT / BOOT_B_LEFT   boots left; ferry sets bootloader.attempts on
#                      install and on mark-good, 0 on mark-bad
# The first slot in BOOT_ORDER with tries left boots and loses one try.
test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3

setenv bootargs
for BOOT_SLOT in "${BOOT_ORDER}"; do
  if test "x${bootargs}" != "x"; then
    # a slot was already chosen
  elif test "x${BOOT_SLOT}" = "xA"; then
    if test ${BOOT_A_LEFT} -gt 0; then
      setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
      setenv load_kernel "load mmc 0:2 ${kernel_addr_r} /boot/Image"
      setenv bootargs "root=PARTLABEL=rootfs-a ro rootwait ferry.slot=A"
    fi
  elif test "x${BOOT_SLOT}" = "xB"; then
    if test ${BOOT_B_LEFT} -gt 0; then
      setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
      setenv load_kernel "load mmc 0:3 ${kernel_addr_r} /boot/Image"
      setenv bootargs "root=PARTLABEL=rootfs-b ro rootwait ferry.slot=B"
    fi
  fi
done

if test -n "${bootargs}"; then
  saveenv
else
  echo "no slot has tries left: resetting both to 3 (as RAUC's sample script does)"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
  saveenv
  reset
fi

run load_kernel
booti ${kernel_addr_r} - ${fdt_addr_r}
