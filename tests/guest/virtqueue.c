#include "virtqueue.h"

#include "console.h"
#include "dma.h"

#define AVAIL_OFFSET 0x400u
#define USED_OFFSET 0x800u

/*
 * How long vq_wait keeps polling: VQ_WAIT_CHECKS Status reads, VQ_WAIT_SPINS
 * used-ring polls apart. Real requests finish long before; the limit only turns
 * a device that never answers into a message instead of a hang (about a minute
 * under QEMU TCG, much longer in brig's ring-0 emulator, where the harness
 * timeout comes first).
 */
#define VQ_WAIT_CHECKS (1u << 20)
#define VQ_WAIT_SPINS 256u

static volatile uint16_t *used_event(struct virtqueue *vq) {
	return &vq->avail->ring[vq->size];
}

static volatile uint16_t *avail_event(struct virtqueue *vq) {
	return (volatile uint16_t *)&vq->used->ring[vq->size];
}

void vq_layout(struct virtqueue *vq, struct vq_page *page, uint16_t size) {
	vq->size = size;
	vq->desc = (volatile struct vring_desc *)page->bytes;
	vq->avail = (volatile struct vring_avail *)(page->bytes + AVAIL_OFFSET);
	vq->used = (volatile struct vring_used *)(page->bytes + USED_OFFSET);
}

static void write_address(const struct virtio_device *dev, uint32_t low_reg, volatile const void *pointer) {
	uint64_t address = dma_address(pointer);
	virtio_write(dev, low_reg, (uint32_t)address);
	virtio_write(dev, low_reg + 4, (uint32_t)(address >> 32));
}

bool vq_setup(struct virtqueue *vq, const struct virtio_device *dev, uint16_t index, struct vq_page *page,
              uint16_t size) {
	virtio_write(dev, VIRTIO_MMIO_QUEUE_SEL, index);
	if (virtio_read(dev, VIRTIO_MMIO_QUEUE_READY) != 0) {
		console_write_line("virtio: queue already ready after reset");
		return false;
	}
	uint32_t max = virtio_read(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0) {
		console_write_line("virtio: queue not available");
		return false;
	}
	if (size > max) {
		size = (uint16_t)max;
	}
	if (size > VQ_MAX_SIZE) {
		size = VQ_MAX_SIZE;
	}
	/* Split rings index with & (size - 1): round a device's odd maximum down to a power of two. */
	while (size & (size - 1)) {
		size &= (uint16_t)(size - 1);
	}
	*vq = (struct virtqueue){
		.dev = dev,
		.index = index,
		.event_idx = (dev->features & VIRTIO_F_RING_EVENT_IDX) != 0,
	};
	vq_layout(vq, page, size);
	dma_zero(page, sizeof *page);
	for (uint16_t i = 0; i + 1 < size; i++) {
		vq->desc[i].next = (uint16_t)(i + 1);
	}
	vq->free_count = size;
	virtio_write(dev, VIRTIO_MMIO_QUEUE_NUM, size);
	write_address(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, vq->desc);
	write_address(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, vq->avail);
	write_address(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, vq->used);
	virtio_write(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	return true;
}

int vq_add(struct virtqueue *vq, const struct vq_buffer *buffers, uint32_t count) {
	if (count == 0 || count > vq->free_count) {
		return -1;
	}
	uint16_t head = vq->free_head;
	uint16_t index = head;
	for (uint32_t i = 0; i < count; i++) {
		volatile struct vring_desc *desc = &vq->desc[index];
		desc->addr = buffers[i].addr;
		desc->len = buffers[i].len;
		uint16_t flags = buffers[i].device_writes ? VRING_DESC_F_WRITE : 0;
		if (i + 1 < count) {
			flags |= VRING_DESC_F_NEXT;
			index = desc->next;
		} else {
			vq->free_head = desc->next;
		}
		desc->flags = flags;
	}
	vq->free_count = (uint16_t)(vq->free_count - count);
	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
	/* The device may look at the entry as soon as it sees the new idx. */
	vq_compiler_barrier();
	vq->avail_idx++;
	vq->avail->idx = vq->avail_idx;
	return head;
}

/* 2.7.10.1: notify only if avail_event lies in (old, new]. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx) {
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

void vq_kick(struct virtqueue *vq) {
	/* The idx store must be visible before we read the device's suppression hint. */
	vq_full_barrier();
	bool notify;
	if (vq->event_idx) {
		notify = need_event(*avail_event(vq), vq->avail_idx, vq->kicked_idx);
	} else {
		notify = !(vq->used->flags & VRING_USED_F_NO_NOTIFY);
	}
	vq->kicked_idx = vq->avail_idx;
	if (notify) {
		virtio_write(vq->dev, VIRTIO_MMIO_QUEUE_NOTIFY, vq->index);
	}
}

static void free_chain(struct virtqueue *vq, uint16_t head) {
	uint16_t index = head;
	uint16_t freed = 1;
	/* Descriptors are ours (the device never writes them), so the walk is trustworthy. */
	while (vq->desc[index].flags & VRING_DESC_F_NEXT) {
		index = vq->desc[index].next;
		freed++;
	}
	vq->desc[index].next = vq->free_head;
	vq->free_head = head;
	vq->free_count = (uint16_t)(vq->free_count + freed);
}

bool vq_poll(struct virtqueue *vq, uint32_t *head, uint32_t *len) {
	if (vq->used->idx == vq->last_used) {
		return false;
	}
	/* Read the entry only after seeing idx move (loads stay in order on x86). */
	vq_compiler_barrier();
	volatile struct vring_used_elem *elem = &vq->used->ring[vq->last_used & (vq->size - 1)];
	uint32_t id = elem->id;
	*len = elem->len;
	vq->last_used++;
	if (id >= vq->size) {
		console_write("virtio: used id out of range ");
		console_write_hex(id);
		console_write("\n");
		*head = id;
		return true;
	}
	*head = id;
	free_chain(vq, (uint16_t)id);
	if (vq->event_idx) {
		/* Interrupt on the next completion, so the status register keeps being exercised. */
		*used_event(vq) = vq->last_used;
	}
	/* Polled, but the status is read and ACKed as an interrupt handler would (brig's proxy serves it). */
	virtio_ack_interrupt(vq->dev);
	return true;
}

enum vq_wait_result vq_wait(struct virtqueue *vq, uint32_t *head, uint32_t *len) {
	for (uint32_t check = 0; check < VQ_WAIT_CHECKS; check++) {
		for (uint32_t spin = 0; spin < VQ_WAIT_SPINS; spin++) {
			if (vq_poll(vq, head, len)) {
				return VQ_DONE;
			}
		}
		if (virtio_status(vq->dev) & VIRTIO_STATUS_NEEDS_RESET) {
			return VQ_NEEDS_RESET;
		}
	}
	return VQ_TIMEOUT;
}
