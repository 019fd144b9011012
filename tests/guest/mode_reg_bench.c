/*
 * mode=reg-bench reads=N: N register reads of each kind, each kind between a
 * "bench: KIND start" and "bench: KIND done" line, so the host can time them from
 * the console (bench/reg_access.py): a virtio-mmio register (Version) and a
 * config-space word (capacity) of the first virtio-blk device, both forwarded to
 * the device, and the UART's line status register, which brig serves from a shadow.
 * The loop itself runs in emulated ring 0 on kvm_pvm hosts, for every VMM alike.
 */
#include "modes.h"

#include "cmdline.h"
#include "console.h"
#include "port_io.h"
#include "power.h"
#include "virtio_mmio.h"

#define DEFAULT_READS 8192u
#define COM1_LINE_STATUS 0x3fd

static volatile uint32_t sink; /* keeps the reads from being optimised away */

static void phase_start(const char *name) {
	console_write("bench: ");
	console_write(name);
	console_write_line(" start");
}

static void phase_done(const char *name) {
	console_write("bench: ");
	console_write(name);
	console_write_line(" done");
}

void mode_reg_bench(const struct boot_info *info) {
	uint64_t reads = cmdline_number(info->cmdline, "reads=", DEFAULT_READS);
	struct virtio_device blk;
	if (!virtio_find(VIRTIO_ID_BLOCK, &blk)) {
		console_write_line("bench: no virtio-blk device");
		power_off();
	}
	console_write("bench: reads=");
	console_write_decimal(reads);
	console_write_line("");

	phase_start("mmio");
	for (uint64_t i = 0; i < reads; i++) {
		sink = virtio_read(&blk, VIRTIO_MMIO_VERSION);
	}
	phase_done("mmio");

	phase_start("config");
	for (uint64_t i = 0; i < reads; i++) {
		sink = virtio_read(&blk, VIRTIO_MMIO_CONFIG);
	}
	phase_done("config");

	phase_start("lsr");
	for (uint64_t i = 0; i < reads; i++) {
		sink = inb(COM1_LINE_STATUS);
	}
	phase_done("lsr");
	power_off();
}
