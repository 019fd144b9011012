/*
 * virtio-blk (virtio 1.2, 5.2) on top of virtqueue.c: one request queue, requests
 * of header + data + status descriptors, and a pipeline that keeps several
 * requests in flight but hands completed data back in submission order.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "virtio_mmio.h"
#include "virtqueue.h"

#define BLK_SECTOR_SIZE 512u

/* Request types (5.2.6). */
enum {
	VIRTIO_BLK_T_IN = 0,
	VIRTIO_BLK_T_OUT = 1,
	VIRTIO_BLK_T_FLUSH = 4,
	VIRTIO_BLK_T_GET_ID = 8,
};

/* Status byte values, plus this driver's own codes for transport failures. */
enum {
	VIRTIO_BLK_S_OK = 0,
	VIRTIO_BLK_S_IOERR = 1,
	VIRTIO_BLK_S_UNSUPP = 2,
	BLK_NEEDS_RESET = -1,
	BLK_TIMEOUT = -2,
	BLK_NO_DESCRIPTORS = -3,
};

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_RO (1ull << 5)
#define VIRTIO_BLK_F_FLUSH (1ull << 9)

#define VIRTIO_BLK_ID_BYTES 20u

/* Request slots: one header, status byte and data buffer each. */
#define BLK_SLOTS 4u
#define BLK_SLOT_BYTES (64u * 1024u)
#define BLK_SLOT_SECTORS (BLK_SLOT_BYTES / BLK_SECTOR_SIZE)

struct virtio_blk {
	struct virtio_device dev;
	struct virtqueue vq;
	uint64_t capacity; /* in 512-byte sectors */
	uint32_t in_flight; /* slots usable at once: BLK_SLOTS, fewer on a small queue */
};

/* The data buffer of a slot (BLK_SLOT_BYTES, in DMA memory). */
uint8_t *blk_slot_buffer(uint32_t slot);

/*
 * Finds the virtio-blk device (the first, or disk=N's) and brings it up: features (RO and FLUSH if
 * offered, plus `extra_features` such as EVENT_IDX), queue 0 with `queue_size`
 * entries, DRIVER_OK, capacity. Prints a "blk: ..." line and returns false on failure.
 */
bool blk_open(struct virtio_blk *blk, uint64_t extra_features, uint16_t queue_size);

/* The two halves of blk_open: up to ready queues (no DRIVER_OK), then DRIVER_OK and capacity. */
bool blk_setup(struct virtio_blk *blk, uint64_t extra_features, uint16_t queue_size);
void blk_start(struct virtio_blk *blk);

/* Features, queue size and device from the command line: event-idx=1, qsize=N, disk=N
 * (the Nth virtio-blk device in probe order, from 0; default 0). */
bool blk_open_from_cmdline(struct virtio_blk *blk, const char *cmdline, uint64_t extra_features);

/*
 * Adds one request on `slot`: `len` bytes of data at `data` (none for 0), device
 * writes it for IN and GET_ID. Returns the head descriptor or -1. No notify.
 */
int blk_submit(struct virtio_blk *blk, uint32_t slot, uint32_t type, uint64_t sector, uint64_t data, uint32_t len);

/* Where a slot's request header and status byte are, for hand-made descriptors. */
uint64_t blk_slot_header_address(uint32_t slot);
uint64_t blk_slot_status_address(uint32_t slot);

/* The status byte the device wrote for `slot`. */
uint8_t blk_slot_status(uint32_t slot);

/* One request, notified and waited for: the status byte, or a negative BLK_ code. */
int blk_request(struct virtio_blk *blk, uint32_t type, uint64_t sector, uint64_t data, uint32_t len);

struct blk_pipeline {
	uint32_t type;               /* VIRTIO_BLK_T_IN or _OUT */
	uint64_t first_sector;
	uint32_t sectors;            /* total */
	uint32_t sectors_per_request; /* at most BLK_SLOT_SECTORS */
	/* Optional: where request `n` goes (random access); default first + n * per request. */
	uint64_t (*sector_of)(void *context, uint32_t request);
	/* Optional, for writes: fill the buffer before it is submitted. */
	void (*fill)(void *context, uint8_t *buffer, uint64_t sector, uint32_t sectors);
	/* Optional, for reads: called in submission order; false stops the pipeline. */
	bool (*consume)(void *context, const uint8_t *buffer, uint64_t sector, uint32_t sectors);
	void *context;
};

/*
 * Runs the requests with blk->in_flight of them outstanding, one notify per batch.
 * Returns 0, the first non-zero status byte, or a negative BLK_ code; a consume
 * that returns false ends it with 0.
 */
int blk_run(struct virtio_blk *blk, const struct blk_pipeline *pipeline);

/* Prints "blk: request failed status=S" (or needs-reset / timeout) for a blk_ result. */
void blk_report_failure(const char *what, int result);
