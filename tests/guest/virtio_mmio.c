#include "virtio_mmio.h"

#include "console.h"
#include "port_io.h"

/* brig: vmm/memory/layout.h kVirtioMmioBase / kVirtioMmioStride / kVirtioMmioWindows. */
#define BRIG_VIRTIO_BASE 0xd0000000u
#define BRIG_VIRTIO_STRIDE 0x1000u
#define BRIG_VIRTIO_WINDOWS 16u

/*
 * QEMU microvm (hw/i386/microvm.c): VIRTIO_MMIO_BASE with 512-byte transports,
 * 8 of them, or 24 when the second I/O APIC is enabled (the default with ACPI).
 * Probing all 24 costs nothing where fewer exist: empty space reads 0 or ~0.
 */
#define QEMU_VIRTIO_BASE 0xfeb00000u
#define QEMU_VIRTIO_STRIDE 0x200u
#define QEMU_VIRTIO_WINDOWS 24u

/* A reset that never completes is a broken device, not a reason to hang. */
#define RESET_POLL_LIMIT 100000u

uint32_t virtio_read(const struct virtio_device *dev, uint32_t reg) {
	return mmio_read32(dev->base + reg);
}

void virtio_write(const struct virtio_device *dev, uint32_t reg, uint32_t value) {
	mmio_write32(dev->base + reg, value);
}

static bool window_has_device(uintptr_t base, uint32_t *device_id) {
	if (mmio_read32(base + VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC) {
		return false;
	}
	/* Version 1 is the legacy layout (QEMU's default unless force-legacy=false). */
	if (mmio_read32(base + VIRTIO_MMIO_VERSION) != VIRTIO_MMIO_MODERN_VERSION) {
		return false;
	}
	*device_id = mmio_read32(base + VIRTIO_MMIO_DEVICE_ID);
	return *device_id != 0;
}

static uint32_t probe_windows(uintptr_t base, uintptr_t stride, uint32_t windows, struct virtio_device *found,
                              uint32_t count, uint32_t max) {
	for (uint32_t i = 0; i < windows && count < max; i++) {
		uintptr_t window = base + i * stride;
		uint32_t device_id;
		if (window_has_device(window, &device_id)) {
			found[count] = (struct virtio_device){.base = window, .device_id = device_id};
			count++;
		}
	}
	return count;
}

uint32_t virtio_probe(struct virtio_device *found, uint32_t max) {
	uint32_t count = probe_windows(BRIG_VIRTIO_BASE, BRIG_VIRTIO_STRIDE, BRIG_VIRTIO_WINDOWS, found, 0, max);
	return probe_windows(QEMU_VIRTIO_BASE, QEMU_VIRTIO_STRIDE, QEMU_VIRTIO_WINDOWS, found, count, max);
}

bool virtio_find_nth(uint32_t device_id, uint32_t nth, struct virtio_device *out) {
	struct virtio_device found[VIRTIO_MAX_DEVICES];
	uint32_t count = virtio_probe(found, VIRTIO_MAX_DEVICES);
	for (uint32_t i = 0; i < count; i++) {
		if (found[i].device_id == device_id && nth-- == 0) {
			*out = found[i];
			return true;
		}
	}
	return false;
}

bool virtio_find(uint32_t device_id, struct virtio_device *out) {
	return virtio_find_nth(device_id, 0, out);
}

uint32_t virtio_status(const struct virtio_device *dev) {
	return virtio_read(dev, VIRTIO_MMIO_STATUS);
}

bool virtio_reset(const struct virtio_device *dev) {
	virtio_write(dev, VIRTIO_MMIO_STATUS, 0);
	/* 4.2.3.1: the reset is complete when Status reads back 0. */
	for (uint32_t i = 0; i < RESET_POLL_LIMIT; i++) {
		if (virtio_status(dev) == 0) {
			return true;
		}
	}
	console_write_line("virtio: reset did not complete");
	return false;
}

static void add_status(const struct virtio_device *dev, uint32_t bits) {
	virtio_write(dev, VIRTIO_MMIO_STATUS, virtio_status(dev) | bits);
}

static uint64_t read_device_features(const struct virtio_device *dev) {
	virtio_write(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t low = virtio_read(dev, VIRTIO_MMIO_DEVICE_FEATURES);
	virtio_write(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t high = virtio_read(dev, VIRTIO_MMIO_DEVICE_FEATURES);
	return (high << 32) | low;
}

static void write_driver_features(const struct virtio_device *dev, uint64_t features) {
	virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_write(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
}

bool virtio_negotiate(struct virtio_device *dev, uint64_t wanted) {
	/* 3.1.1, the driver initialisation sequence. */
	if (!virtio_reset(dev)) {
		return false;
	}
	add_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	add_status(dev, VIRTIO_STATUS_DRIVER);
	dev->offered_features = read_device_features(dev);
	/* Without VERSION_1 this is a legacy device, whose rules this driver does not follow. */
	if (!(dev->offered_features & VIRTIO_F_VERSION_1)) {
		console_write_line("virtio: device does not offer VERSION_1");
		add_status(dev, VIRTIO_STATUS_FAILED);
		return false;
	}
	dev->features = (wanted & dev->offered_features) | VIRTIO_F_VERSION_1;
	write_driver_features(dev, dev->features);
	add_status(dev, VIRTIO_STATUS_FEATURES_OK);
	/* The device clears FEATURES_OK when it cannot work with the accepted subset. */
	if (!(virtio_status(dev) & VIRTIO_STATUS_FEATURES_OK)) {
		console_write_line("virtio: FEATURES_OK did not stick");
		add_status(dev, VIRTIO_STATUS_FAILED);
		return false;
	}
	return true;
}

void virtio_driver_ok(const struct virtio_device *dev) {
	add_status(dev, VIRTIO_STATUS_DRIVER_OK);
}

uint32_t virtio_ack_interrupt(const struct virtio_device *dev) {
	uint32_t pending = virtio_read(dev, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (pending != 0) {
		virtio_write(dev, VIRTIO_MMIO_INTERRUPT_ACK, pending);
	}
	return pending;
}

uint32_t virtio_config_read32(const struct virtio_device *dev, uint32_t offset) {
	return virtio_read(dev, VIRTIO_MMIO_CONFIG + offset);
}

uint8_t virtio_config_read8(const struct virtio_device *dev, uint32_t offset) {
	return mmio_read8(dev->base + VIRTIO_MMIO_CONFIG + offset);
}

uint64_t virtio_config_read64(const struct virtio_device *dev, uint32_t offset) {
	/* 4.2.2.2: a field wider than 32 bits can change between the halves; retry. */
	for (;;) {
		uint32_t generation = virtio_read(dev, VIRTIO_MMIO_CONFIG_GENERATION);
		uint64_t low = virtio_config_read32(dev, offset);
		uint64_t high = virtio_config_read32(dev, offset + 4);
		if (virtio_read(dev, VIRTIO_MMIO_CONFIG_GENERATION) == generation) {
			return (high << 32) | low;
		}
	}
}
