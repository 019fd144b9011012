/*
 * mode=reboot: a guest that reboots, for brig's --on-reboot restart. Each boot counts
 * itself in sector 0 of the first virtio-blk disk ("boots=N"), written and flushed,
 * then resets while it has booted fewer than resets=N+1 times (default resets=1) and
 * powers off after. Before it resets it scribbles over what a reboot must load again:
 * its command line and a variable in its own data. Each boot prints
 *   reboot: boot=N status=S marker=M cmdline=ok|lost
 * where S is the disk's virtio status register as the boot found it (0 after a reset
 * of the device) and M is the variable (0x600d unless the kernel was not reloaded).
 * Options: resets=N; hold=1 (after the last boot, halt instead of powering off); kbd=1 (reset through the i8042) or triple=1 (a triple fault),
 * else through the ACPI reset register. The caller adds intact=1 to the command line.
 */
#include "modes.h"

#include <stddef.h>

#include "cmdline.h"
#include "console.h"
#include "dma.h"
#include "power.h"
#include "virtio_blk.h"

#define BOOT_MARKER 0x600du

static volatile uint32_t boot_marker = BOOT_MARKER;
static uint8_t sector[DMA_PAGE_SIZE] DMA_AREA;

static const char kCountPrefix[] = "boots=";

static uint64_t parse_count(const uint8_t *bytes) {
	for (size_t i = 0; i + 1 < sizeof kCountPrefix; i++) {
		if (bytes[i] != (uint8_t)kCountPrefix[i]) {
			return 0; /* a fresh disk */
		}
	}
	uint64_t value = 0;
	for (size_t i = sizeof kCountPrefix - 1; i < 32 && bytes[i] >= '0' && bytes[i] <= '9'; i++) {
		value = value * 10 + (uint64_t)(bytes[i] - '0');
	}
	return value;
}

static void write_count(uint8_t *bytes, uint64_t count) {
	for (size_t i = 0; i < BLK_SECTOR_SIZE; i++) {
		bytes[i] = 0;
	}
	size_t at = 0;
	for (; at + 1 < sizeof kCountPrefix; at++) {
		bytes[at] = (uint8_t)kCountPrefix[at];
	}
	char digits[24];
	size_t n = 0;
	do {
		digits[n++] = (char)('0' + count % 10);
		count /= 10;
	} while (count != 0);
	while (n > 0) {
		bytes[at++] = (uint8_t)digits[--n];
	}
	bytes[at] = '\n';
}

static bool request_ok(const char *what, int result) {
	if (result == VIRTIO_BLK_S_OK) {
		return true;
	}
	console_write("reboot: ");
	console_write(what);
	console_write(" failed, status=");
	console_write_decimal((uint64_t)(int64_t)result);
	console_write("\n");
	return false;
}

void mode_reboot(const struct boot_info *info) {
	struct virtio_device found;
	const uint32_t status_at_boot = virtio_find(VIRTIO_ID_BLOCK, &found) ? virtio_status(&found) : 0xffu;
	const bool cmdline_intact = cmdline_number(info->cmdline, "intact=", 0) == 1;
	const uint32_t marker = boot_marker;

	struct virtio_blk blk;
	if (!blk_open_from_cmdline(&blk, info->cmdline, 0)) {
		power_off();
	}
	if (!request_ok("read", blk_request(&blk, VIRTIO_BLK_T_IN, 0, dma_address(sector), BLK_SECTOR_SIZE))) {
		power_off();
	}
	const uint64_t boot = parse_count(sector) + 1;
	write_count(sector, boot);
	if (!request_ok("write", blk_request(&blk, VIRTIO_BLK_T_OUT, 0, dma_address(sector), BLK_SECTOR_SIZE)) ||
	    !request_ok("flush", blk_request(&blk, VIRTIO_BLK_T_FLUSH, 0, 0, 0))) {
		power_off();
	}

	console_write("reboot: boot=");
	console_write_decimal(boot);
	console_write(" status=");
	console_write_decimal(status_at_boot);
	console_write(" marker=");
	console_write_hex(marker);
	console_write(cmdline_intact ? " cmdline=ok\n" : " cmdline=lost\n");

	if (boot > cmdline_number(info->cmdline, "resets=", 1)) {
		if (cmdline_number(info->cmdline, "hold=", 0) == 1) {
			console_write_line("reboot: holding");
			for (;;) {
				__asm__ volatile("cli; hlt");
			}
		}
		power_off();
	}
	const bool via_kbd = cmdline_number(info->cmdline, "kbd=", 0) == 1;
	const bool via_triple = cmdline_number(info->cmdline, "triple=", 0) == 1;
	/* What the next boot must find as the first one did, spoiled; the disk is left
	 * mid-use, queue set up and DRIVER_OK. */
	boot_marker = 0xdeadu;
	for (char *c = (char *)info->cmdline; *c != '\0'; c++) {
		if (*c == '=') {
			*c = '#';
		}
	}
	if (via_kbd) {
		reset_via_keyboard_controller();
	}
	if (via_triple) {
		reset_via_triple_fault();
	}
	reset_via_acpi();
}
