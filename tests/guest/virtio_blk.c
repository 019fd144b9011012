#include "virtio_blk.h"

#include "cmdline.h"
#include "console.h"
#include "dma.h"

/* Config space (5.2.4): capacity in 512-byte sectors at offset 0. */
#define VIRTIO_BLK_CONFIG_CAPACITY 0

#define BLK_DESCRIPTORS_PER_REQUEST 3u
#define BLK_NO_SLOT 0xffu

/* 5.2.6: the device-readable header of every request. */
struct blk_request_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_slot_dma {
	struct blk_request_header header;
	uint8_t status;
};

static struct vq_page queue_page DMA_AREA;
static struct blk_slot_dma slot_dma[BLK_SLOTS] DMA_AREA;
static uint8_t slot_data[BLK_SLOTS][BLK_SLOT_BYTES] DMA_AREA;

/* Which virtio-blk device blk_setup opens, in probe order: disk=N on the command line. */
static uint32_t selected_disk;

/* Which slot a head descriptor belongs to, to match completions to requests. */
static uint8_t head_slot[VQ_MAX_SIZE];

uint8_t *blk_slot_buffer(uint32_t slot) {
	return slot_data[slot];
}

uint8_t blk_slot_status(uint32_t slot) {
	return ((volatile struct blk_slot_dma *)&slot_dma[slot])->status;
}

uint64_t blk_slot_header_address(uint32_t slot) {
	return dma_address(&slot_dma[slot].header);
}

uint64_t blk_slot_status_address(uint32_t slot) {
	return dma_address(&slot_dma[slot].status);
}

bool blk_setup(struct virtio_blk *blk, uint64_t extra_features, uint16_t queue_size) {
	if (!virtio_find_nth(VIRTIO_ID_BLOCK, selected_disk, &blk->dev)) {
		console_write_line("blk: no device");
		return false;
	}
	if (!virtio_negotiate(&blk->dev, VIRTIO_BLK_F_RO | VIRTIO_BLK_F_FLUSH | extra_features)) {
		return false;
	}
	if (!vq_setup(&blk->vq, &blk->dev, 0, &queue_page, queue_size)) {
		return false;
	}
	blk->in_flight = blk->vq.size / BLK_DESCRIPTORS_PER_REQUEST;
	if (blk->in_flight > BLK_SLOTS) {
		blk->in_flight = BLK_SLOTS;
	}
	if (blk->in_flight == 0) {
		console_write_line("blk: queue too small");
		return false;
	}
	for (uint32_t i = 0; i < VQ_MAX_SIZE; i++) {
		head_slot[i] = BLK_NO_SLOT;
	}
	return true;
}

void blk_start(struct virtio_blk *blk) {
	virtio_driver_ok(&blk->dev);
	blk->capacity = virtio_config_read64(&blk->dev, VIRTIO_BLK_CONFIG_CAPACITY);
}

bool blk_open(struct virtio_blk *blk, uint64_t extra_features, uint16_t queue_size) {
	if (!blk_setup(blk, extra_features, queue_size)) {
		return false;
	}
	blk_start(blk);
	return true;
}

bool blk_open_from_cmdline(struct virtio_blk *blk, const char *cmdline, uint64_t extra_features) {
	if (cmdline_number(cmdline, "event-idx=", 0) != 0) {
		extra_features |= VIRTIO_F_RING_EVENT_IDX;
	}
	selected_disk = (uint32_t)cmdline_number(cmdline, "disk=", 0);
	uint64_t queue_size = cmdline_number(cmdline, "qsize=", VQ_DEFAULT_SIZE);
	if (queue_size == 0 || queue_size > VQ_MAX_SIZE) {
		queue_size = VQ_DEFAULT_SIZE;
	}
	return blk_open(blk, extra_features, (uint16_t)queue_size);
}

int blk_submit(struct virtio_blk *blk, uint32_t slot, uint32_t type, uint64_t sector, uint64_t data, uint32_t len) {
	volatile struct blk_slot_dma *dma = &slot_dma[slot];
	dma->header.type = type;
	dma->header.reserved = 0;
	dma->header.sector = sector;
	/* Not a valid status: shows whether the device wrote one at all. */
	dma->status = 0xff;
	bool device_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct vq_buffer buffers[3];
	uint32_t count = 0;
	buffers[count++] = (struct vq_buffer){dma_address(&dma->header), sizeof dma->header, false};
	if (len != 0) {
		buffers[count++] = (struct vq_buffer){data, len, device_writes};
	}
	buffers[count++] = (struct vq_buffer){dma_address(&dma->status), 1, true};
	int head = vq_add(&blk->vq, buffers, count);
	if (head >= 0) {
		head_slot[head] = (uint8_t)slot;
	}
	return head;
}

/* Waits for one completion; returns its slot, or a negative BLK_ code. */
static int wait_slot(struct virtio_blk *blk) {
	uint32_t head;
	uint32_t len;
	switch (vq_wait(&blk->vq, &head, &len)) {
	case VQ_DONE:
		break;
	case VQ_NEEDS_RESET:
		return BLK_NEEDS_RESET;
	case VQ_TIMEOUT:
		return BLK_TIMEOUT;
	}
	if (head >= VQ_MAX_SIZE || head_slot[head] == BLK_NO_SLOT) {
		console_write_line("blk: completion for an unknown request");
		return BLK_NEEDS_RESET;
	}
	int slot = head_slot[head];
	head_slot[head] = BLK_NO_SLOT;
	return slot;
}

int blk_request(struct virtio_blk *blk, uint32_t type, uint64_t sector, uint64_t data, uint32_t len) {
	if (blk_submit(blk, 0, type, sector, data, len) < 0) {
		return BLK_NO_DESCRIPTORS;
	}
	vq_kick(&blk->vq);
	int slot = wait_slot(blk);
	return slot < 0 ? slot : blk_slot_status((uint32_t)slot);
}

struct slot_request {
	uint64_t sector;
	uint32_t sectors;
	bool done;
};

int blk_run(struct virtio_blk *blk, const struct blk_pipeline *p) {
	uint32_t per = p->sectors_per_request;
	if (per == 0 || per > BLK_SLOT_SECTORS) {
		per = BLK_SLOT_SECTORS;
	}
	/* 32-bit division on purpose: a 64-bit one would need libgcc in the 32-bit build. */
	uint32_t requests = (p->sectors + per - 1) / per;
	struct slot_request slots[BLK_SLOTS];
	uint32_t submitted = 0;
	uint32_t completed = 0;
	int result = 0;
	while (completed < requests) {
		/* Fill every free slot, then one notify for the whole batch. */
		bool added = false;
		while (result == 0 && submitted < requests && submitted - completed < blk->in_flight) {
			uint32_t slot = submitted % BLK_SLOTS;
			uint32_t offset = submitted * per;
			uint64_t sector = p->sector_of ? p->sector_of(p->context, submitted) : p->first_sector + offset;
			uint32_t sectors = p->sectors - offset < per ? p->sectors - offset : per;
			if (p->fill) {
				p->fill(p->context, slot_data[slot], sector, sectors);
			}
			slots[slot] = (struct slot_request){sector, sectors, false};
			if (blk_submit(blk, slot, p->type, sector, dma_address(slot_data[slot]), sectors * BLK_SECTOR_SIZE) < 0) {
				return BLK_NO_DESCRIPTORS;
			}
			submitted++;
			added = true;
		}
		if (added) {
			vq_kick(&blk->vq);
		}
		if (completed == submitted) {
			break; /* stopped early: nothing left in flight */
		}
		/* Results are handed back in submission order; later ones may finish first. */
		uint32_t oldest = completed % BLK_SLOTS;
		while (!slots[oldest].done) {
			int slot = wait_slot(blk);
			if (slot < 0) {
				return slot;
			}
			slots[slot].done = true;
		}
		uint8_t status = blk_slot_status(oldest);
		if (status != VIRTIO_BLK_S_OK && result == 0) {
			result = status;
		}
		if (result == 0 && p->consume &&
		    !p->consume(p->context, slot_data[oldest], slots[oldest].sector, slots[oldest].sectors)) {
			/* Stop submitting; let what is in flight finish so the queue ends idle. */
			result = 0;
			requests = submitted;
		}
		completed++;
	}
	return result;
}

void blk_report_failure(const char *what, int result) {
	console_write("blk: ");
	console_write(what);
	if (result == BLK_NEEDS_RESET) {
		console_write_line(" failed: device needs reset");
	} else if (result == BLK_TIMEOUT) {
		console_write_line(" failed: timeout");
	} else if (result == BLK_NO_DESCRIPTORS) {
		console_write_line(" failed: no free descriptors");
	} else {
		console_write(" failed status=");
		console_write_decimal((uint64_t)result);
		console_write("\n");
	}
}
