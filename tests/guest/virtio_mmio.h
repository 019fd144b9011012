/*
 * virtio-mmio transport, version 2 ("modern", virtio 1.2 section 4.2.2). Just
 * enough of a driver to test a VMM's devices: find them, negotiate features,
 * hand over queues, and read config space and the interrupt status. Everything
 * is polled; the guest never takes an interrupt.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Register offsets (virtio 1.2, 4.2.2 "MMIO Device Register Layout"). */
enum {
	VIRTIO_MMIO_MAGIC_VALUE = 0x000,
	VIRTIO_MMIO_VERSION = 0x004,
	VIRTIO_MMIO_DEVICE_ID = 0x008,
	VIRTIO_MMIO_VENDOR_ID = 0x00c,
	VIRTIO_MMIO_DEVICE_FEATURES = 0x010,
	VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014,
	VIRTIO_MMIO_DRIVER_FEATURES = 0x020,
	VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024,
	VIRTIO_MMIO_QUEUE_SEL = 0x030,
	VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034,
	VIRTIO_MMIO_QUEUE_NUM = 0x038,
	VIRTIO_MMIO_QUEUE_READY = 0x044,
	VIRTIO_MMIO_QUEUE_NOTIFY = 0x050,
	VIRTIO_MMIO_INTERRUPT_STATUS = 0x060,
	VIRTIO_MMIO_INTERRUPT_ACK = 0x064,
	VIRTIO_MMIO_STATUS = 0x070,
	VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080,
	VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084,
	VIRTIO_MMIO_QUEUE_DRIVER_LOW = 0x090, /* the available ring */
	VIRTIO_MMIO_QUEUE_DRIVER_HIGH = 0x094,
	VIRTIO_MMIO_QUEUE_DEVICE_LOW = 0x0a0, /* the used ring */
	VIRTIO_MMIO_QUEUE_DEVICE_HIGH = 0x0a4,
	VIRTIO_MMIO_CONFIG_GENERATION = 0x0fc,
	VIRTIO_MMIO_CONFIG = 0x100,
};

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIRTIO_MMIO_MODERN_VERSION 2u

/* Device status bits (2.1). */
enum {
	VIRTIO_STATUS_ACKNOWLEDGE = 0x01,
	VIRTIO_STATUS_DRIVER = 0x02,
	VIRTIO_STATUS_DRIVER_OK = 0x04,
	VIRTIO_STATUS_FEATURES_OK = 0x08,
	VIRTIO_STATUS_NEEDS_RESET = 0x40,
	VIRTIO_STATUS_FAILED = 0x80,
};

/* Device IDs (5). */
enum {
	VIRTIO_ID_NET = 1,
	VIRTIO_ID_BLOCK = 2,
	VIRTIO_ID_CONSOLE = 3,
	VIRTIO_ID_RNG = 4,
};

/* Device-independent feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_RING_EVENT_IDX (1ull << 29)
#define VIRTIO_F_VERSION_1 (1ull << 32)

#define VIRTIO_MAX_DEVICES 32

struct virtio_device {
	uintptr_t base;
	uint32_t device_id;
	uint64_t offered_features; /* what the device offered at the last negotiation */
	uint64_t features;         /* what the driver accepted and the device took */
};

/*
 * Probes both fixed window lists, brig's first (0xd0000000 + i * 0x1000, 8
 * windows), then QEMU microvm's (0xfeb00000 + i * 0x200, 24 windows), and keeps
 * every window with the magic value, version 2 and a device ID other than 0
 * (0 is an empty transport). Returns how many were found, at most `max`.
 */
uint32_t virtio_probe(struct virtio_device *found, uint32_t max);

/* The first device with this ID, in probe order; false if there is none. */
bool virtio_find(uint32_t device_id, struct virtio_device *out);
/* The `nth` (from 0) device with this ID, in probe order; false if there are fewer. */
bool virtio_find_nth(uint32_t device_id, uint32_t nth, struct virtio_device *out);

uint32_t virtio_read(const struct virtio_device *dev, uint32_t reg);
void virtio_write(const struct virtio_device *dev, uint32_t reg, uint32_t value);

uint32_t virtio_status(const struct virtio_device *dev);
/* Writes 0 to Status and waits (bounded) for the device to read back 0. */
bool virtio_reset(const struct virtio_device *dev);

/*
 * Reset, ACKNOWLEDGE, DRIVER, then accept VIRTIO_F_VERSION_1 plus whatever of
 * `wanted` the device offers, set FEATURES_OK and check that it stuck. Prints a
 * "virtio: ..." line and returns false on any failure. Queues come next, then
 * virtio_driver_ok.
 */
bool virtio_negotiate(struct virtio_device *dev, uint64_t wanted);
void virtio_driver_ok(const struct virtio_device *dev);

/* Reads InterruptStatus and acknowledges whatever bits were set; returns them. */
uint32_t virtio_ack_interrupt(const struct virtio_device *dev);

uint32_t virtio_config_read32(const struct virtio_device *dev, uint32_t offset);
uint8_t virtio_config_read8(const struct virtio_device *dev, uint32_t offset);
/* A 64-bit config field read as two halves, retried until ConfigGeneration is stable. */
uint64_t virtio_config_read64(const struct virtio_device *dev, uint32_t offset);
