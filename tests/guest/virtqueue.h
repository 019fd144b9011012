/*
 * Split virtqueues (virtio 1.2, 2.7), driver side, polled. One queue lives in one
 * 4 KiB DMA page: descriptor table at 0, available ring at 0x400, used ring at
 * 0x800, which fits up to VQ_MAX_SIZE entries and meets every alignment rule.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "virtio_mmio.h"

#define VQ_MAX_SIZE 64u
#define VQ_DEFAULT_SIZE 16u

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

enum {
	VRING_DESC_F_NEXT = 1,
	VRING_DESC_F_WRITE = 2, /* the device writes this buffer */
	VRING_DESC_F_INDIRECT = 4,
};

/* ring[size] is followed by used_event (with VIRTIO_F_RING_EVENT_IDX). */
struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

/* ring[size] is followed by avail_event (with VIRTIO_F_RING_EVENT_IDX). */
struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

#define VRING_USED_F_NO_NOTIFY 1

/* One page per queue. */
struct vq_page {
	uint8_t bytes[4096];
};

struct virtqueue {
	const struct virtio_device *dev;
	uint16_t index;
	uint16_t size;
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	uint16_t free_head;    /* free descriptors are chained through next */
	uint16_t free_count;
	uint16_t avail_idx;    /* our copy of avail->idx */
	uint16_t kicked_idx;   /* avail_idx at the last notification, for EVENT_IDX */
	uint16_t last_used;    /* used entries consumed so far */
	bool event_idx;
};

struct vq_buffer {
	uint64_t addr;
	uint32_t len;
	bool device_writes;
};

/*
 * Selects queue `index`, checks it is not live yet, sets QueueNum to
 * min(QueueNumMax, size), clears `page` and hands it over, then QueueReady = 1.
 * Must run between FEATURES_OK and DRIVER_OK. Prints and returns false on failure.
 */
bool vq_setup(struct virtqueue *vq, const struct virtio_device *dev, uint16_t index, struct vq_page *page,
              uint16_t size);

/* The ring addresses inside one page, for code that programs a queue by hand. */
void vq_layout(struct virtqueue *vq, struct vq_page *page, uint16_t size);

/*
 * Chains `count` buffers (device-readable ones first, as 2.7.4 requires) and
 * publishes the head in the available ring. Returns the head descriptor, or -1
 * when too few descriptors are free. Does not notify: see vq_kick.
 */
int vq_add(struct virtqueue *vq, const struct vq_buffer *buffers, uint32_t count);

/* Notifies the device unless it asked not to be (used flags or avail_event). */
void vq_kick(struct virtqueue *vq);

/*
 * Takes one used entry if there is one: frees its chain, reads and ACKs
 * InterruptStatus, and with EVENT_IDX asks for the next interrupt.
 */
bool vq_poll(struct virtqueue *vq, uint32_t *head, uint32_t *len);

enum vq_wait_result {
	VQ_DONE,
	VQ_NEEDS_RESET, /* the device gave up on the queue (Status bit 0x40) */
	VQ_TIMEOUT,
};

/* vq_poll until an entry arrives, the device sets NEEDS_RESET, or a long bounded wait ends. */
enum vq_wait_result vq_wait(struct virtqueue *vq, uint32_t *head, uint32_t *len);

/* A full barrier with a plain locked instruction (no SSE2 mfence in this guest). */
static inline void vq_full_barrier(void) {
	static uint32_t barrier_target;
	__asm__ volatile("lock; orl $0, %0" : "+m"(barrier_target) : : "memory");
}

/* x86 keeps stores in order and loads in order; only the compiler must be stopped. */
static inline void vq_compiler_barrier(void) {
	__asm__ volatile("" ::: "memory");
}
