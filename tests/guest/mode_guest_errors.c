/*
 * Guest errors that must never get a device blamed (brig must keep the VM running):
 *   hostile-mmio-split     a 4-byte read and write across the end of the first virtio
 *                          window, which KVM splits into 3 bytes and 1 byte
 *   print-flood bytes=N    N bytes on COM1 as fast as possible (a host test stalls the
 *                          reader meanwhile), then "flood: done"
 *   hostile-reset-during-batch
 *                          posts a 4093-byte virtio-rng request (which brig-device-test
 *                          serves slowly) and resets the device while it is processed,
 *                          then polls Status until it reads 0
 */
#include "modes.h"

#include "cmdline.h"
#include "console.h"
#include "dma.h"
#include "power.h"
#include "virtio_mmio.h"
#include "virtqueue.h"

#define FIRST_VIRTIO_WINDOW 0xd0000000u
#define WINDOW_SIZE 0x1000u
#define SLOW_RNG_REQUEST 4093u /* brig-device-test's hook length */
#define RESET_POLLS 50000000u

static struct vq_page rng_page DMA_AREA;
static uint8_t rng_buffer[DMA_PAGE_SIZE] DMA_AREA;

void mode_hostile_mmio_split(const struct boot_info *info) {
	(void)info;
	volatile uint32_t *across = (volatile uint32_t *)(uintptr_t)(FIRST_VIRTIO_WINDOW + WINDOW_SIZE - 3);
	uint32_t value = *across;
	*across = 0;
	console_write("mmio-split: read=");
	console_write_hex(value);
	console_write("\n");
	console_write_line("mmio-split: done");
	power_off();
}

void mode_print_flood(const struct boot_info *info) {
	uint64_t bytes = cmdline_number(info->cmdline, "bytes=", 65536);
	static const char line[] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";
	uint64_t sent = 0;
	while (sent < bytes) {
		uint64_t n = bytes - sent < sizeof line - 1 ? bytes - sent : sizeof line - 1;
		console_write_bytes(line, (uint32_t)n);
		sent += n;
	}
	console_write_line("\nflood: done");
	power_off();
}

void mode_hostile_reset_during_batch(const struct boot_info *info) {
	(void)info;
	struct virtio_device dev;
	struct virtqueue vq;
	if (!virtio_find(VIRTIO_ID_RNG, &dev) || !virtio_negotiate(&dev, 0) ||
	    !vq_setup(&vq, &dev, 0, &rng_page, VQ_DEFAULT_SIZE)) {
		console_write_line("reset-batch: no rng");
		power_off();
	}
	virtio_driver_ok(&dev);
	struct vq_buffer in = {dma_address(rng_buffer), SLOW_RNG_REQUEST, true};
	vq_add(&vq, &in, 1);
	vq_kick(&vq);
	/* Give the device a moment to pick the request up, then reset under it. */
	for (uint32_t i = 0; i < 1000; i++) {
		(void)virtio_status(&dev);
	}
	virtio_write(&dev, VIRTIO_MMIO_STATUS, 0);
	uint32_t polls = 0;
	while (virtio_status(&dev) != 0 && polls < RESET_POLLS) {
		polls++;
	}
	console_write(polls < RESET_POLLS ? "reset-batch: status=0 polls=" : "reset-batch: never reset polls=");
	console_write_decimal(polls);
	console_write("\n");
	power_off();
}
