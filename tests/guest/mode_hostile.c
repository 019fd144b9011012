/*
 * Hostile drivers against virtio-blk: each mode brings up a fresh device, breaks
 * one rule of the split ring, notifies, waits a short bounded time and prints
 *
 *     hostile: CASE status=0x..        (Status; NEEDS_RESET is 0x40)
 *     hostile: CASE used=N isr=0x.. blk-status=S
 *         (used.idx; InterruptStatus, then ACKed; the request's status byte,
 *         255 when the device wrote none)
 *
 * then resets, sets the device up properly, reads sector 0 and prints
 * "hostile: CASE recovered=1" (or 0). A device must survive all of these and
 * must never touch memory the guest did not give it.
 */
#include "modes.h"

#include "console.h"
#include "cpu.h"
#include "dma.h"
#include "power.h"
#include "virtio_blk.h"

/*
 * Guest-physical addresses that are not RAM: the top of the 32-bit MMIO hole
 * (below the KVM TSS pages brig puts at 0xfffbc000), and a page whose end wraps
 * past 2^64.
 */
#define ADDRESS_OUTSIDE_RAM 0xfff00000ull
#define ADDRESS_NEAR_TOP 0xfffffffffffff000ull

/*
 * The bounded wait: HOSTILE_POLLS Status reads, HOSTILE_SPINS apart; about two
 * seconds in brig's ring-0 emulator, a blink under QEMU (which handles a notify
 * before the MMIO write returns anyway).
 */
#define HOSTILE_POLLS 200u
#define HOSTILE_SPINS 5000u

static uint8_t data_buffer[DMA_PAGE_SIZE] DMA_AREA;

static void print_case(const char *name, const char *what) {
	console_write("hostile: ");
	console_write(name);
	console_write(" ");
	console_write(what);
}

/* Waits until the device completes something or gives up on the queue, or time runs out. */
static uint32_t wait_for_reaction(struct virtio_blk *blk) {
	for (uint32_t i = 0; i < HOSTILE_POLLS; i++) {
		uint32_t status = virtio_status(&blk->dev);
		if ((status & VIRTIO_STATUS_NEEDS_RESET) || blk->vq.used->idx != 0) {
			break;
		}
		busy_wait(HOSTILE_SPINS);
	}
	return virtio_status(&blk->dev);
}

static void report_reaction(const char *name, struct virtio_blk *blk, uint32_t status) {
	print_case(name, "status=");
	console_write_hex(status);
	console_write("\n");
	print_case(name, "used=");
	console_write_decimal(blk->vq.used->idx);
	console_write(" isr=");
	console_write_hex(virtio_ack_interrupt(&blk->dev));
	console_write(" blk-status=");
	console_write_decimal(blk_slot_status(0));
	console_write("\n");
}

/* Reset, a proper setup, one good read of sector 0. */
static void recover(const char *name, struct virtio_blk *blk) {
	virtio_reset(&blk->dev);
	bool ok = blk_open(blk, 0, VQ_DEFAULT_SIZE) &&
	          blk_request(blk, VIRTIO_BLK_T_IN, 0, dma_address(data_buffer), BLK_SECTOR_SIZE) == VIRTIO_BLK_S_OK;
	print_case(name, ok ? "recovered=1\n" : "recovered=0\n");
}

static void set_desc(struct virtio_blk *blk, uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next) {
	volatile struct vring_desc *desc = &blk->vq.desc[index];
	desc->addr = addr;
	desc->len = len;
	desc->flags = flags;
	desc->next = next;
}

/* Header, data, status in descriptors 0..2, the usual chain but with the data descriptor as given. */
static void set_request(struct virtio_blk *blk, uint32_t type, uint64_t data, uint32_t len) {
	volatile uint32_t *header = (volatile uint32_t *)(uintptr_t)blk_slot_header_address(0);
	header[0] = type;
	header[1] = 0;
	header[2] = 0; /* sector 0 */
	header[3] = 0;
	uint16_t data_flags = VRING_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0);
	set_desc(blk, 0, blk_slot_header_address(0), 16, VRING_DESC_F_NEXT, 1);
	set_desc(blk, 1, data, len, data_flags, 2);
	set_desc(blk, 2, blk_slot_status_address(0), 1, VRING_DESC_F_WRITE, 0);
}

/* Publishes head 0 and notifies regardless of any suppression hint. */
static void publish_and_notify(struct virtio_blk *blk) {
	blk->vq.avail->ring[0] = 0;
	vq_compiler_barrier();
	blk->vq.avail->idx = 1;
	vq_full_barrier();
	virtio_write(&blk->dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

/* 0xff is no valid status: shows whether the device wrote one. */
static void clear_request_status(void) {
	*(volatile uint8_t *)(uintptr_t)blk_slot_status_address(0) = 0xff;
}

/* Runs one case against a freshly opened device: provoke, wait, report, recover. */
static void run_case(const char *name, uint64_t extra_features, void (*provoke)(struct virtio_blk *blk)) {
	struct virtio_blk blk;
	if (!blk_open(&blk, extra_features, VQ_DEFAULT_SIZE)) {
		power_off();
	}
	clear_request_status();
	provoke(&blk);
	uint32_t status = wait_for_reaction(&blk);
	report_reaction(name, &blk, status);
	recover(name, &blk);
}

static void provoke_oob(struct virtio_blk *blk) {
	set_request(blk, VIRTIO_BLK_T_IN, ADDRESS_OUTSIDE_RAM, BLK_SECTOR_SIZE);
	publish_and_notify(blk);
}

/* The device reads these (a write request), so a device that wrongly accepts cannot scribble on the guest. */
static void provoke_len_overflow(struct virtio_blk *blk) {
	set_request(blk, VIRTIO_BLK_T_OUT, 0x1000, 0xffffffffu);
	publish_and_notify(blk);
}

static void provoke_addr_wrap(struct virtio_blk *blk) {
	set_request(blk, VIRTIO_BLK_T_OUT, ADDRESS_NEAR_TOP, 0x2000);
	publish_and_notify(blk);
}

static void provoke_loop(struct virtio_blk *blk) {
	set_desc(blk, 0, blk_slot_header_address(0), 16, VRING_DESC_F_NEXT, 1);
	set_desc(blk, 1, dma_address(data_buffer), BLK_SECTOR_SIZE, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0);
	publish_and_notify(blk);
}

static void provoke_avail_jump(struct virtio_blk *blk) {
	/* 1000 "new" heads in a ring of 16: more than can ever be outstanding. */
	blk->vq.avail->idx = 1000;
	vq_full_barrier();
	virtio_write(&blk->dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static void provoke_indirect_oob(struct virtio_blk *blk) {
	/* A table of three descriptors, supposedly, somewhere that is not RAM. */
	set_desc(blk, 0, ADDRESS_OUTSIDE_RAM, 3 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	publish_and_notify(blk);
}

void mode_hostile_oob(const struct boot_info *info) {
	(void)info;
	run_case("oob", 0, provoke_oob);
	power_off();
}

void mode_hostile_len_overflow(const struct boot_info *info) {
	(void)info;
	run_case("len-overflow", 0, provoke_len_overflow);
	run_case("addr-wrap", 0, provoke_addr_wrap);
	power_off();
}

void mode_hostile_loop(const struct boot_info *info) {
	(void)info;
	run_case("loop", 0, provoke_loop);
	power_off();
}

void mode_hostile_avail_jump(const struct boot_info *info) {
	(void)info;
	run_case("avail-jump", 0, provoke_avail_jump);
	power_off();
}

void mode_hostile_indirect_oob(const struct boot_info *info) {
	(void)info;
	/* Offer to use indirect tables if the device has them; the flag is wrong either way here. */
	run_case("indirect-oob", VIRTIO_F_INDIRECT_DESC, provoke_indirect_oob);
	power_off();
}

/* A queue size that is not a power of two (2.7: split rings must be). */
void mode_hostile_qsize(const struct boot_info *info) {
	(void)info;
	static struct vq_page page DMA_AREA;
	struct virtio_blk blk;
	if (!virtio_find(VIRTIO_ID_BLOCK, &blk.dev) || !virtio_negotiate(&blk.dev, 0)) {
		console_write_line("blk: no device");
		power_off();
	}
	dma_zero(&page, sizeof page);
	clear_request_status();
	vq_layout(&blk.vq, &page, 3);
	virtio_write(&blk.dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	virtio_write(&blk.dev, VIRTIO_MMIO_QUEUE_NUM, 3);
	virtio_write(&blk.dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)dma_address(blk.vq.desc));
	virtio_write(&blk.dev, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	virtio_write(&blk.dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)dma_address(blk.vq.avail));
	virtio_write(&blk.dev, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	virtio_write(&blk.dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)dma_address(blk.vq.used));
	virtio_write(&blk.dev, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	virtio_write(&blk.dev, VIRTIO_MMIO_QUEUE_READY, 1);
	report_reaction("qsize", &blk, wait_for_reaction(&blk));
	print_case("qsize", "queue-ready=");
	console_write_decimal(virtio_read(&blk.dev, VIRTIO_MMIO_QUEUE_READY));
	console_write("\n");
	recover("qsize", &blk);
	power_off();
}

#define EARLY_SECTOR 0
#define BEFORE_BYTE 0xa5
#define EARLY_BYTE 0x5a

static void fill(uint8_t byte) {
	for (uint32_t i = 0; i < BLK_SECTOR_SIZE; i++) {
		data_buffer[i] = byte;
	}
}

/*
 * 3.1.1: the driver must not notify before DRIVER_OK, and the device must not
 * act on it. The sector gets a known "before" pattern first; the early write
 * request carries another, and the queue is reset (not started) before the
 * sector is read back, so a device that only processes buffers after DRIVER_OK
 * (which it may) cannot make the check fail.
 */
void mode_hostile_notify_early(const struct boot_info *info) {
	(void)info;
	struct virtio_blk blk;
	if (!blk_open(&blk, 0, VQ_DEFAULT_SIZE)) {
		power_off();
	}
	fill(BEFORE_BYTE);
	int result = blk_request(&blk, VIRTIO_BLK_T_OUT, EARLY_SECTOR, dma_address(data_buffer), BLK_SECTOR_SIZE);
	if (result != VIRTIO_BLK_S_OK) {
		blk_report_failure("write", result);
		power_off();
	}

	if (!blk_setup(&blk, 0, VQ_DEFAULT_SIZE)) {
		power_off();
	}
	fill(EARLY_BYTE);
	blk_submit(&blk, 0, VIRTIO_BLK_T_OUT, EARLY_SECTOR, dma_address(data_buffer), BLK_SECTOR_SIZE);
	vq_full_barrier();
	virtio_write(&blk.dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	uint32_t status = wait_for_reaction(&blk);
	uint16_t used = blk.vq.used->idx;
	report_reaction("notify-early", &blk, status);

	virtio_reset(&blk.dev);
	fill(0);
	bool read_ok = blk_open(&blk, 0, VQ_DEFAULT_SIZE) &&
	               blk_request(&blk, VIRTIO_BLK_T_IN, EARLY_SECTOR, dma_address(data_buffer), BLK_SECTOR_SIZE) ==
	                   VIRTIO_BLK_S_OK;
	bool written = read_ok && data_buffer[0] == EARLY_BYTE;
	print_case("notify-early", "used=");
	console_write_decimal(used);
	console_write(written ? " written=1\n" : " written=0\n");
	if (read_ok && data_buffer[0] != EARLY_BYTE && data_buffer[0] != BEFORE_BYTE) {
		print_case("notify-early", "sector holds neither pattern\n");
	}
	print_case("notify-early", read_ok ? "recovered=1\n" : "recovered=0\n");
	power_off();
}
