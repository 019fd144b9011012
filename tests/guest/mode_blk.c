/*
 * The virtio-blk modes: blk-write, blk-checksum, blk-ro, blk-past-end, blk-id.
 * Options: seed=S, sectors=N, and for every mode event-idx=1 (negotiate
 * VIRTIO_F_RING_EVENT_IDX) and qsize=N (queue size, default 16).
 */
#include "modes.h"

#include "cmdline.h"
#include "console.h"
#include "dma.h"
#include "power.h"
#include "virtio_blk.h"

#define DEFAULT_SECTORS 64u
/* Small requests on purpose for blk-write: many of them, several in flight. */
#define WRITE_SECTORS_PER_REQUEST 8u

#define FNV1A64_OFFSET 0xcbf29ce484222325ull
#define FNV1A64_PRIME 0x100000001b3ull

static uint8_t small_buffer[DMA_PAGE_SIZE] DMA_AREA;

static void open_or_power_off(struct virtio_blk *blk, const struct boot_info *info) {
	if (!blk_open_from_cmdline(blk, info->cmdline, 0)) {
		power_off();
	}
	console_write("blk: capacity=");
	console_write_decimal(blk->capacity);
	console_write_line(" sectors");
}

/* How many sectors a mode covers from sector `first`: sectors=N, clamped to the disk. */
static uint32_t sectors_option(const struct virtio_blk *blk, const struct boot_info *info, uint64_t first) {
	uint64_t sectors = cmdline_number(info->cmdline, "sectors=", DEFAULT_SECTORS);
	uint64_t left = first < blk->capacity ? blk->capacity - first : 0;
	if (sectors > left) {
		sectors = left;
	}
	if (sectors > 0xffffffffu) {
		sectors = 0xffffffffu;
	}
	return (uint32_t)sectors;
}

/* --- blk-write -------------------------------------------------------------- */

struct pattern {
	uint32_t seed;
	bool mismatch;
	uint64_t bad_sector;
};

/* byte(sector s, offset i) = (s * 7 + i * 13 + seed) & 0xff, the host test's formula. */
static uint8_t pattern_byte(uint32_t seed, uint64_t sector, uint32_t offset) {
	return (uint8_t)((uint32_t)sector * 7u + offset * 13u + seed);
}

static void fill_pattern(void *context, uint8_t *buffer, uint64_t sector, uint32_t sectors) {
	const struct pattern *pattern = context;
	for (uint32_t s = 0; s < sectors; s++) {
		for (uint32_t i = 0; i < BLK_SECTOR_SIZE; i++) {
			buffer[s * BLK_SECTOR_SIZE + i] = pattern_byte(pattern->seed, sector + s, i);
		}
	}
}

static bool check_pattern(void *context, const uint8_t *buffer, uint64_t sector, uint32_t sectors) {
	struct pattern *pattern = context;
	for (uint32_t s = 0; s < sectors; s++) {
		for (uint32_t i = 0; i < BLK_SECTOR_SIZE; i++) {
			if (buffer[s * BLK_SECTOR_SIZE + i] != pattern_byte(pattern->seed, sector + s, i)) {
				pattern->mismatch = true;
				pattern->bad_sector = sector + s;
				return false;
			}
		}
	}
	return true;
}

void run_blk_write(const struct boot_info *info) {
	struct virtio_blk blk;
	if (!blk_open_from_cmdline(&blk, info->cmdline, 0)) {
		return;
	}
	console_write("blk: capacity=");
	console_write_decimal(blk.capacity);
	console_write_line(" sectors");
	uint64_t first = cmdline_number(info->cmdline, "start=", 0);
	uint32_t sectors = sectors_option(&blk, info, first);
	struct pattern pattern = {.seed = (uint32_t)cmdline_number(info->cmdline, "seed=", 0)};
	struct blk_pipeline write = {
		.type = VIRTIO_BLK_T_OUT,
		.first_sector = first,
		.sectors = sectors,
		.sectors_per_request = WRITE_SECTORS_PER_REQUEST,
		.fill = fill_pattern,
		.context = &pattern,
	};
	int result = blk_run(&blk, &write);
	if (result != 0) {
		blk_report_failure("write", result);
		return;
	}
	console_write("blk: wrote ");
	console_write_decimal(sectors);
	console_write_line(" sectors");

	result = blk_request(&blk, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	if (result < 0) {
		blk_report_failure("flush", result);
		return;
	}
	console_write("blk: flush status=");
	console_write_decimal((uint64_t)result);
	console_write("\n");

	struct blk_pipeline verify = {
		.type = VIRTIO_BLK_T_IN,
		.first_sector = first,
		.sectors = sectors,
		.sectors_per_request = WRITE_SECTORS_PER_REQUEST,
		.consume = check_pattern,
		.context = &pattern,
	};
	result = blk_run(&blk, &verify);
	if (result != 0) {
		blk_report_failure("read", result);
	} else if (pattern.mismatch) {
		console_write("blk: verify FAILED at sector ");
		console_write_decimal(pattern.bad_sector);
		console_write("\n");
	} else {
		console_write_line("blk: verify ok");
	}
}

void mode_blk_write(const struct boot_info *info) {
	run_blk_write(info);
	power_off();
}

/* --- blk-checksum ----------------------------------------------------------- */

/* gcc expands a 64-bit multiply inline even for i386, so no libgcc helper is involved. */
static bool fnv1a64_update(void *context, const uint8_t *buffer, uint64_t sector, uint32_t sectors) {
	(void)sector;
	uint64_t *hash = context;
	uint64_t h = *hash;
	for (uint32_t i = 0; i < sectors * BLK_SECTOR_SIZE; i++) {
		h = (h ^ buffer[i]) * FNV1A64_PRIME;
	}
	*hash = h;
	return true;
}

static void write_hex64_padded(uint64_t value) {
	static const char digits[] = "0123456789abcdef";
	char text[16];
	for (int i = 15; i >= 0; i--) {
		text[i] = digits[value & 0xf];
		value >>= 4;
	}
	console_write("0x");
	console_write_bytes(text, 16);
}

void mode_blk_checksum(const struct boot_info *info) {
	struct virtio_blk blk;
	open_or_power_off(&blk, info);
	uint32_t sectors = sectors_option(&blk, info, 0);
	uint64_t hash = FNV1A64_OFFSET;
	struct blk_pipeline read = {
		.type = VIRTIO_BLK_T_IN,
		.sectors = sectors,
		.sectors_per_request = BLK_SLOT_SECTORS,
		.consume = fnv1a64_update,
		.context = &hash,
	};
	int result = blk_run(&blk, &read);
	if (result != 0) {
		blk_report_failure("read", result);
		power_off();
	}
	console_write("blk: read ");
	console_write_decimal(sectors);
	console_write_line(" sectors");
	console_write("blk: fnv1a64=");
	write_hex64_padded(hash);
	console_write("\n");
	power_off();
}

/* --- blk-ro, blk-past-end, blk-id ---------------------------------------------- */

/* "blk: WHAT status=S", or what went wrong below the status byte. */
static void report_status(const char *what, int result) {
	if (result < 0) {
		blk_report_failure(what, result);
		return;
	}
	console_write("blk: ");
	console_write(what);
	console_write(" status=");
	console_write_decimal((uint64_t)result);
	console_write("\n");
}

void mode_blk_ro(const struct boot_info *info) {
	struct virtio_blk blk;
	open_or_power_off(&blk, info);
	console_write((blk.dev.offered_features & VIRTIO_BLK_F_RO) ? "blk: ro=1\n" : "blk: ro=0\n");
	/* Read first and write the same bytes back: a disk that is writable after all keeps its data. */
	int result = blk_request(&blk, VIRTIO_BLK_T_IN, 0, dma_address(small_buffer), BLK_SECTOR_SIZE);
	report_status("read", result);
	result = blk_request(&blk, VIRTIO_BLK_T_OUT, 0, dma_address(small_buffer), BLK_SECTOR_SIZE);
	report_status("write", result);
	power_off();
}

void mode_blk_past_end(const struct boot_info *info) {
	struct virtio_blk blk;
	open_or_power_off(&blk, info);
	int result = blk_request(&blk, VIRTIO_BLK_T_IN, blk.capacity, dma_address(small_buffer), BLK_SECTOR_SIZE);
	report_status("past-end", result);
	power_off();
}

void mode_blk_id(const struct boot_info *info) {
	struct virtio_blk blk;
	open_or_power_off(&blk, info);
	for (uint32_t i = 0; i < VIRTIO_BLK_ID_BYTES; i++) {
		small_buffer[i] = 0;
	}
	int result = blk_request(&blk, VIRTIO_BLK_T_GET_ID, 0, dma_address(small_buffer), VIRTIO_BLK_ID_BYTES);
	report_status("id", result);
	if (result == VIRTIO_BLK_S_OK) {
		/* 5.2.6: up to 20 bytes, NUL-terminated only when shorter. */
		console_write("blk: id=");
		for (uint32_t i = 0; i < VIRTIO_BLK_ID_BYTES && small_buffer[i] != 0; i++) {
			uint8_t c = small_buffer[i];
			char printable = c >= 0x20 && c < 0x7f ? (char)c : '?';
			console_write_bytes(&printable, 1);
		}
		console_write("\n");
	}
	power_off();
}

/* --- blk-write-log ------------------------------------------------------------ */

/*
 * For the crash test: writes one sector at a time, in order, and prints
 * "blk: done N" only after the device has completed sector N. The host kills the
 * blk device mid-run and then checks that every sector reported done is on disk.
 */
void mode_blk_write_log(const struct boot_info *info) {
	struct virtio_blk blk;
	open_or_power_off(&blk, info);
	const uint32_t seed = (uint32_t)cmdline_number(info->cmdline, "seed=", 0);
	struct pattern pattern = {.seed = seed};
	uint8_t *buffer = blk_slot_buffer(0);
	for (uint64_t sector = 0; sector < blk.capacity; sector++) {
		fill_pattern(&pattern, buffer, sector, 1);
		const int result = blk_request(&blk, VIRTIO_BLK_T_OUT, sector, dma_address(buffer), BLK_SECTOR_SIZE);
		if (result != VIRTIO_BLK_S_OK) {
			blk_report_failure("write", result);
			power_off();
		}
		console_write("blk: done ");
		console_write_decimal(sector);
		console_write("\n");
	}
	power_off();
}
