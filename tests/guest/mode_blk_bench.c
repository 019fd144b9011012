/*
 * mode=blk-bench mib=M: sequential write and read of M MiB (default 4) in
 * 64 KiB requests, then RANDOM_READS random 4 KiB reads, each phase between a
 * "bench: PHASE start" and "bench: PHASE done" line so the host can time it from
 * the console. The written data is whatever the buffers hold: only speed matters.
 */
#include "modes.h"

#include "cmdline.h"
#include "console.h"
#include "power.h"
#include "virtio_blk.h"

#define DEFAULT_MIB 4u
#define SECTORS_PER_MIB (1024u * 1024u / BLK_SECTOR_SIZE)
#define RANDOM_READS 1000u
#define RANDOM_READ_SECTORS 8u /* 4 KiB */

struct random_reads {
	uint32_t state;
	uint32_t block_mask; /* 4 KiB blocks to pick from, a power of two minus one */
};

/* Numerical Recipes' LCG; the high bits are the better ones. Masking avoids a division. */
static uint64_t random_sector(void *context, uint32_t request) {
	(void)request;
	struct random_reads *random = context;
	random->state = random->state * 1664525u + 1013904223u;
	return (uint64_t)((random->state >> 8) & random->block_mask) * RANDOM_READ_SECTORS;
}

static bool run_phase(struct virtio_blk *blk, const char *name, const struct blk_pipeline *pipeline) {
	console_write("bench: ");
	console_write(name);
	console_write_line(" start");
	int result = blk_run(blk, pipeline);
	if (result != 0) {
		blk_report_failure(name, result);
		return false;
	}
	console_write("bench: ");
	console_write(name);
	console_write_line(" done");
	return true;
}

void mode_blk_bench(const struct boot_info *info) {
	struct virtio_blk blk;
	if (!blk_open_from_cmdline(&blk, info->cmdline, 0)) {
		power_off();
	}
	uint64_t sectors = cmdline_number(info->cmdline, "mib=", DEFAULT_MIB) * SECTORS_PER_MIB;
	if (sectors > blk.capacity) {
		sectors = blk.capacity;
	}
	if (sectors > 0x80000000u) {
		sectors = 0x80000000u;
	}
	console_write("bench: sectors=");
	console_write_decimal(sectors);
	console_write(" in-flight=");
	console_write_decimal(blk.in_flight);
	console_write("\n");

	struct blk_pipeline sequential = {
		.type = VIRTIO_BLK_T_OUT,
		.sectors = (uint32_t)sectors,
		.sectors_per_request = BLK_SLOT_SECTORS,
	};
	if (!run_phase(&blk, "seqwrite", &sequential)) {
		power_off();
	}
	sequential.type = VIRTIO_BLK_T_IN;
	if (!run_phase(&blk, "seqread", &sequential)) {
		power_off();
	}

	uint64_t blocks = blk.capacity / RANDOM_READ_SECTORS;
	struct random_reads random = {.state = 1};
	while (random.block_mask < 0x7fffffffu && (uint64_t)random.block_mask * 2 + 1 < blocks) {
		random.block_mask = random.block_mask * 2 + 1;
	}
	struct blk_pipeline random_read = {
		.type = VIRTIO_BLK_T_IN,
		.sectors = RANDOM_READS * RANDOM_READ_SECTORS,
		.sectors_per_request = RANDOM_READ_SECTORS,
		.sector_of = random_sector,
		.context = &random,
	};
	if (blocks == 0) {
		console_write_line("bench: disk smaller than 4 KiB, no random reads");
	} else if (!run_phase(&blk, "randread", &random_read)) {
		power_off();
	}
	power_off();
}
