#include "virtio_net.h"

#include <stddef.h>

#include "cmdline.h"
#include "console.h"
#include "dma.h"

/* Config space (5.1.4): mac[6] at 0, status (le16) at 6. */
#define NET_CONFIG_MAC 0
#define NET_CONFIG_STATUS 6

/* One receive buffer or transmit slot (header + a whole frame) each, per descriptor. */
#define NET_SLOT_BYTES 1536u
#define NET_NO_BUFFER 0xffu

/*
 * Bounded waits: NET_WAIT_CHECKS Status reads, NET_WAIT_SPINS used-ring polls
 * apart. A transmission or the rest of a merged frame comes in microseconds;
 * the limit only turns a device that stopped into a message (seconds under QEMU
 * TCG, far longer in brig's ring-0 emulator, where the harness timeout comes first).
 */
#define NET_WAIT_CHECKS (1u << 16)
#define NET_WAIT_SPINS 256u

static struct vq_page queue_pages[2] DMA_AREA;
static uint8_t rx_buffers[VQ_MAX_SIZE][NET_SLOT_BYTES] DMA_AREA;
/* Indexed by the head descriptor of the chain that carries the slot. */
static uint8_t tx_slots[VQ_MAX_SIZE][NET_SLOT_BYTES] DMA_AREA;

/* Which receive buffer a head descriptor carries, to hand buffers back. */
static uint8_t rx_head_buffer[VQ_MAX_SIZE];

/* A merged frame, put together from its buffers (only with MRG_RXBUF). */
static uint8_t merged_frame[NET_MAX_FRAME];

static uint32_t get_le16(const uint8_t *p) {
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

void net_options_from_cmdline(struct net_options *options, const char *cmdline) {
	options->mergeable = cmdline_number(cmdline, "net.mrg=", 0) != 0;
	options->event_idx = cmdline_number(cmdline, "event-idx=", 0) != 0;
	uint64_t rx_buffer = cmdline_number(cmdline, "net.rxbuf=", NET_RX_BUFFER_BYTES);
	if (rx_buffer < NET_RX_BUFFER_MIN) {
		rx_buffer = NET_RX_BUFFER_MIN;
	}
	if (rx_buffer > NET_RX_BUFFER_BYTES) {
		rx_buffer = NET_RX_BUFFER_BYTES;
	}
	options->rx_buffer_bytes = (uint32_t)rx_buffer;
	uint64_t queue_size = cmdline_number(cmdline, "qsize=", VQ_DEFAULT_SIZE);
	if (queue_size < 2 || queue_size > VQ_MAX_SIZE) {
		queue_size = VQ_DEFAULT_SIZE;
	}
	options->queue_size = (uint16_t)queue_size;
}

uint64_t net_rx_buffer_address(uint32_t index) {
	return dma_address(rx_buffers[index]);
}

bool net_needs_reset(const struct virtio_net *net) {
	return (virtio_status(&net->dev) & VIRTIO_STATUS_NEEDS_RESET) != 0;
}

bool net_setup(struct virtio_net *net, const struct net_options *options) {
	*net = (struct virtio_net){0};
	if (!virtio_find(VIRTIO_ID_NET, &net->dev)) {
		console_write_line("net: FAIL no device");
		return false;
	}
	/* No checksum or segmentation offloads: the header the guest sends stays all zeroes. */
	uint64_t wanted = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS;
	if (options->mergeable) {
		wanted |= VIRTIO_NET_F_MRG_RXBUF;
	}
	if (options->event_idx) {
		wanted |= VIRTIO_F_RING_EVENT_IDX;
	}
	if (!virtio_negotiate(&net->dev, wanted)) {
		console_write_line("net: FAIL feature negotiation");
		return false;
	}
	if (!(net->dev.features & VIRTIO_NET_F_MAC)) {
		/* Without it the driver would have to make up an address; the tests want the VMM's. */
		console_write_line("net: FAIL device does not offer VIRTIO_NET_F_MAC");
		return false;
	}
	if (!vq_setup(&net->rx, &net->dev, NET_RX_QUEUE, &queue_pages[0], options->queue_size) ||
	    !vq_setup(&net->tx, &net->dev, NET_TX_QUEUE, &queue_pages[1], options->queue_size)) {
		console_write_line("net: FAIL queue setup");
		return false;
	}
	net->has_status = (net->dev.features & VIRTIO_NET_F_STATUS) != 0;
	net->mergeable = (net->dev.features & VIRTIO_NET_F_MRG_RXBUF) != 0;
	/* 5.1.6.3.1: without MRG_RXBUF every buffer must take a whole frame. */
	net->rx_buffer_bytes = net->mergeable ? options->rx_buffer_bytes : NET_RX_BUFFER_BYTES;
	for (uint32_t i = 0; i < VQ_MAX_SIZE; i++) {
		rx_head_buffer[i] = NET_NO_BUFFER;
	}
	return true;
}

static void read_config(struct virtio_net *net) {
	volatile uint16_t *status = (volatile uint16_t *)(net->dev.base + VIRTIO_MMIO_CONFIG + NET_CONFIG_STATUS);
	/* 4.2.2.2: fields may change between reads; retry until ConfigGeneration holds still. */
	for (;;) {
		uint32_t generation = virtio_read(&net->dev, VIRTIO_MMIO_CONFIG_GENERATION);
		for (uint32_t i = 0; i < ETH_ADDR_BYTES; i++) {
			net->mac[i] = virtio_config_read8(&net->dev, NET_CONFIG_MAC + i);
		}
		net->link_up = net->has_status && (*status & VIRTIO_NET_S_LINK_UP) != 0;
		if (virtio_read(&net->dev, VIRTIO_MMIO_CONFIG_GENERATION) == generation) {
			return;
		}
	}
}

void net_start(struct virtio_net *net) {
	virtio_driver_ok(&net->dev);
	read_config(net);
	console_write("net: mac=");
	write_mac(net->mac);
	console_write(!net->has_status ? " link=unknown\n" : net->link_up ? " link=up\n" : " link=down\n");
	console_write("net: queues rx=");
	console_write_decimal(net->rx.size);
	console_write(" tx=");
	console_write_decimal(net->tx.size);
	console_write(" rxbuf=");
	console_write_decimal(net->rx_buffer_bytes);
	console_write(net->mergeable ? " mrg=1" : " mrg=0");
	console_write((net->dev.features & VIRTIO_F_RING_EVENT_IDX) ? " event-idx=1\n" : " event-idx=0\n");
}

/* Adds receive buffer `index` to the ring (no notify). */
static void post_rx_buffer(struct virtio_net *net, uint32_t index) {
	struct vq_buffer buffer = {dma_address(rx_buffers[index]), net->rx_buffer_bytes, true};
	int head = vq_add(&net->rx, &buffer, 1);
	if (head >= 0) {
		rx_head_buffer[head] = (uint8_t)index;
	}
}

void net_fill_rx(struct virtio_net *net) {
	/* One descriptor per buffer, so the ring holds as many buffers as it has entries. */
	for (uint32_t i = 0; i < net->rx.size; i++) {
		post_rx_buffer(net, i);
	}
	vq_kick(&net->rx);
}

bool net_open(struct virtio_net *net, const struct net_options *options) {
	if (!net_setup(net, options)) {
		return false;
	}
	/* 3.1.1: buffers may be added before DRIVER_OK, but the first notify must come after it. */
	net_start(net);
	net_fill_rx(net);
	return true;
}

/*
 * Takes the next used receive entry: its buffer and the length the device
 * wrote, checked against what it was given. -1 when there is none or it is one
 * the driver cannot use (then already handed back, or the device misbehaved).
 */
static int take_rx_entry(struct virtio_net *net, uint32_t *length) {
	uint32_t head;
	if (!vq_poll(&net->rx, &head, length)) {
		return -1;
	}
	if (head >= VQ_MAX_SIZE || rx_head_buffer[head] == NET_NO_BUFFER) {
		/* The ring's bookkeeping cannot be trusted any more; the mode reports it. */
		if (!net->misbehaved) {
			console_write("net: rx used id not in flight ");
			console_write_decimal(head);
			console_write("\n");
		}
		net->misbehaved = true;
		return -1;
	}
	int buffer = rx_head_buffer[head];
	rx_head_buffer[head] = NET_NO_BUFFER;
	if (*length > net->rx_buffer_bytes) {
		/* Never read past what was given, whatever the device says. */
		if (!net->misbehaved) {
			console_write("net: rx used len ");
			console_write_decimal(*length);
			console_write(" past the buffer\n");
		}
		net->misbehaved = true;
		*length = net->rx_buffer_bytes;
	}
	return buffer;
}

/* Waits (bounded) for the next buffer of a merged frame. */
static int take_next_rx_entry(struct virtio_net *net, uint32_t *length) {
	for (uint32_t check = 0; check < NET_WAIT_CHECKS; check++) {
		for (uint32_t spin = 0; spin < NET_WAIT_SPINS; spin++) {
			if (net->rx.used->idx != net->rx.last_used) {
				return take_rx_entry(net, length);
			}
		}
		if (net_needs_reset(net)) {
			return -1;
		}
	}
	return -1;
}

static void copy_bytes(uint8_t *to, const uint8_t *from, uint32_t length) {
	for (uint32_t i = 0; i < length; i++) {
		to[i] = from[i];
	}
}

/*
 * 5.1.6.4.2: the first buffer starts with the header, whose num_buffers says how
 * many used entries the frame takes. Each buffer is copied and handed back
 * straight away; a frame longer than NET_MAX_FRAME is dropped.
 */
static bool poll_merged(struct virtio_net *net, struct net_frame *frame, int buffer, uint32_t length) {
	uint32_t buffers = 0;
	if (length >= NET_HDR_BYTES) {
		buffers = get_le16(rx_buffers[buffer] + NET_HDR_NUM_BUFFERS);
	}
	bool usable = buffers >= 1 && buffers <= net->rx.size;
	if (!usable) {
		/* A count that cannot be right: drop this buffer alone rather than swallow later frames. */
		buffers = 1;
	}
	uint32_t total = 0;
	uint32_t offset = NET_HDR_BYTES;
	for (uint32_t taken = 0;;) {
		if (usable && length > offset) {
			uint32_t bytes = length - offset;
			if (total + bytes > NET_MAX_FRAME) {
				usable = false;
			} else {
				copy_bytes(merged_frame + total, rx_buffers[buffer] + offset, bytes);
				total += bytes;
			}
		}
		post_rx_buffer(net, (uint32_t)buffer);
		taken++;
		if (taken >= buffers) {
			break;
		}
		buffer = take_next_rx_entry(net, &length);
		if (buffer < 0) {
			usable = false;
			break;
		}
		offset = 0;
	}
	vq_kick(&net->rx);
	if (!usable || total == 0) {
		net->rx_dropped++;
		return false;
	}
	if (buffers > net->rx_max_buffers) {
		net->rx_max_buffers = buffers;
	}
	net->rx_frames++;
	*frame = (struct net_frame){merged_frame, total, -1};
	return true;
}

bool net_poll(struct virtio_net *net, struct net_frame *frame) {
	uint32_t length;
	int buffer = take_rx_entry(net, &length);
	if (buffer < 0) {
		return false;
	}
	if (net->mergeable) {
		return poll_merged(net, frame, buffer, length);
	}
	if (length <= NET_HDR_BYTES) {
		net->rx_dropped++;
		post_rx_buffer(net, (uint32_t)buffer);
		vq_kick(&net->rx);
		return false;
	}
	net->rx_frames++;
	if (net->rx_max_buffers == 0) {
		net->rx_max_buffers = 1;
	}
	*frame = (struct net_frame){rx_buffers[buffer] + NET_HDR_BYTES, length - NET_HDR_BYTES, buffer};
	return true;
}

void net_release(struct virtio_net *net, const struct net_frame *frame) {
	if (frame->buffer >= 0) {
		post_rx_buffer(net, (uint32_t)frame->buffer);
		vq_kick(&net->rx);
	}
}

void net_tx_reclaim(struct virtio_net *net) {
	uint32_t head;
	uint32_t length;
	/* vq_poll frees each finished chain; the slot is free with its head descriptor. */
	while (vq_poll(&net->tx, &head, &length)) {
		if (head >= net->tx.size) {
			/* vq_poll has said so; the free list no longer adds up. */
			net->misbehaved = true;
		}
	}
}

uint8_t *net_tx_frame(struct virtio_net *net) {
	/* Two descriptors: a frame may have a tail (net_tx_send_with_tail). */
	for (uint32_t check = 0; check < NET_WAIT_CHECKS; check++) {
		for (uint32_t spin = 0; spin < NET_WAIT_SPINS; spin++) {
			net_tx_reclaim(net);
			if (net->tx.free_count >= 2) {
				uint8_t *slot = tx_slots[net->tx.free_head];
				dma_zero(slot, NET_HDR_BYTES);
				return slot + NET_HDR_BYTES;
			}
		}
		if (net_needs_reset(net)) {
			console_write_line("net: FAIL tx: device needs reset");
			return NULL;
		}
	}
	console_write_line("net: FAIL tx: timeout");
	return NULL;
}

uint8_t *net_tx_header(struct virtio_net *net) {
	return tx_slots[net->tx.free_head];
}

bool net_tx_send_with_tail(struct virtio_net *net, uint32_t length, uint64_t tail, uint32_t tail_length) {
	if (length > NET_SLOT_BYTES - NET_HDR_BYTES) {
		console_write_line("net: FAIL tx: frame too long");
		return false;
	}
	/* The slot belongs to the head descriptor that net_tx_frame saw, which vq_add takes now. */
	struct vq_buffer buffers[2] = {
		{dma_address(tx_slots[net->tx.free_head]), NET_HDR_BYTES + length, false},
		{tail, tail_length, false},
	};
	if (vq_add(&net->tx, buffers, tail_length != 0 ? 2 : 1) < 0) {
		console_write_line("net: FAIL tx: no free descriptors");
		return false;
	}
	vq_kick(&net->tx);
	return true;
}

bool net_tx_send(struct virtio_net *net, uint32_t length) {
	return net_tx_send_with_tail(net, length, 0, 0);
}

bool net_tx_flush(struct virtio_net *net) {
	for (uint32_t check = 0; check < NET_WAIT_CHECKS; check++) {
		for (uint32_t spin = 0; spin < NET_WAIT_SPINS; spin++) {
			net_tx_reclaim(net);
			if (net->tx.free_count == net->tx.size) {
				return true;
			}
		}
		if (net_needs_reset(net)) {
			console_write_line("net: FAIL tx flush: device needs reset");
			return false;
		}
	}
	console_write_line("net: FAIL tx flush: timeout");
	return false;
}
