/*
 * virtio-net (virtio 1.2, 5.1) on top of virtqueue.c, polled: queue 0 receives,
 * queue 1 transmits, no control queue, no offloads. The guest computes every
 * checksum itself, so the 12-byte header it sends is all zeroes, and it accepts
 * only VERSION_1, MAC, STATUS and, when asked, MRG_RXBUF and RING_EVENT_IDX.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "net_proto.h"
#include "virtio_mmio.h"
#include "virtqueue.h"

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_MAC (1ull << 5)
#define VIRTIO_NET_F_MRG_RXBUF (1ull << 15)
#define VIRTIO_NET_F_STATUS (1ull << 16)

#define VIRTIO_NET_S_LINK_UP 1u

/* struct virtio_net_hdr (5.1.6): with VERSION_1 always 12 bytes, num_buffers included. */
#define NET_HDR_BYTES 12u
enum {
	NET_HDR_FLAGS = 0,       /* u8 */
	NET_HDR_GSO_TYPE = 1,    /* u8 */
	NET_HDR_HDR_LEN = 2,     /* le16 */
	NET_HDR_GSO_SIZE = 4,    /* le16 */
	NET_HDR_CSUM_START = 6,  /* le16 */
	NET_HDR_CSUM_OFFSET = 8, /* le16 */
	NET_HDR_NUM_BUFFERS = 10, /* le16, receive side with MRG_RXBUF */
};
#define VIRTIO_NET_HDR_GSO_NONE 0u
#define VIRTIO_NET_HDR_GSO_TCPV4 1u

#define NET_RX_QUEUE 0
#define NET_TX_QUEUE 1

/* 1500-byte MTU frames without the FCS, and a receive buffer for one (5.1.6.3.1). */
#define NET_MAX_FRAME 1514u
#define NET_RX_BUFFER_BYTES (NET_HDR_BYTES + NET_MAX_FRAME)
/* The smallest net.rxbuf= with MRG_RXBUF: each buffer must hold the header. */
#define NET_RX_BUFFER_MIN 32u

struct net_options {
	bool mergeable;           /* net.mrg=1: accept VIRTIO_NET_F_MRG_RXBUF if offered */
	bool event_idx;           /* event-idx=1: accept VIRTIO_F_RING_EVENT_IDX if offered */
	uint32_t rx_buffer_bytes; /* net.rxbuf=N, used only with MRG_RXBUF (default 1526) */
	uint16_t queue_size;      /* qsize=N for both queues (default 16, at most 64) */
};

struct virtio_net {
	struct virtio_device dev;
	struct virtqueue rx;
	struct virtqueue tx;
	uint8_t mac[ETH_ADDR_BYTES];
	bool has_status; /* VIRTIO_NET_F_STATUS negotiated: link_up means something */
	bool link_up;
	bool mergeable;  /* VIRTIO_NET_F_MRG_RXBUF negotiated */
	uint32_t rx_buffer_bytes;
	/* The device broke a rule (a used id we never gave it, a length past the buffer). */
	bool misbehaved;
	uint32_t rx_frames;
	uint32_t rx_dropped;     /* used entries that were not a usable frame */
	uint32_t rx_max_buffers; /* the most buffers one received frame took (MRG_RXBUF) */
};

/* A received Ethernet frame, header stripped; valid until net_release. */
struct net_frame {
	const uint8_t *data;
	uint32_t length;
	int32_t buffer; /* the receive buffer to hand back, -1 when already back (merged frames) */
};

/* net.mrg=, net.rxbuf=, event-idx=, qsize= from the command line. */
void net_options_from_cmdline(struct net_options *options, const char *cmdline);

/*
 * Finds the first virtio-net device and brings it up: features, both queues,
 * DRIVER_OK, MAC and link status from config space, the receive queue filled.
 * Prints "net: mac=... link=up" and "net: queues ..." lines, or a "net: FAIL ..."
 * line and returns false.
 */
bool net_open(struct virtio_net *net, const struct net_options *options);

/* The steps of net_open: up to ready queues; DRIVER_OK, config and the two lines; the rx buffers. */
bool net_setup(struct virtio_net *net, const struct net_options *options);
void net_start(struct virtio_net *net);
void net_fill_rx(struct virtio_net *net);

/* The address of receive buffer `index`, for hand-made descriptors. */
uint64_t net_rx_buffer_address(uint32_t index);

bool net_needs_reset(const struct virtio_net *net);

/*
 * Takes one received frame if there is one. With MRG_RXBUF the frame's buffers
 * are copied into one and handed back at once. Entries that are not a usable
 * frame are dropped (rx_dropped) and handed back.
 */
bool net_poll(struct virtio_net *net, struct net_frame *frame);
/* Gives the frame's buffer back to the device. */
void net_release(struct virtio_net *net, const struct net_frame *frame);

/*
 * Reserves the next transmit slot, reclaiming finished ones first and waiting
 * (bounded) when none is free. Returns where the frame goes (NET_MAX_FRAME
 * bytes, after a zeroed header), or NULL after printing "net: FAIL tx ...".
 */
uint8_t *net_tx_frame(struct virtio_net *net);
/* The reserved slot's 12-byte header, to set fields before net_tx_send. */
uint8_t *net_tx_header(struct virtio_net *net);
/* Sends the reserved slot: header + `length` frame bytes as one descriptor. */
bool net_tx_send(struct virtio_net *net, uint32_t length);
/* The same plus a second readable descriptor: `tail_length` bytes at `tail` complete the frame. */
bool net_tx_send_with_tail(struct virtio_net *net, uint32_t length, uint64_t tail, uint32_t tail_length);
/* Reclaims finished transmissions without waiting. */
void net_tx_reclaim(struct virtio_net *net);
/* Waits (bounded) until the device has finished every transmission. */
bool net_tx_flush(struct virtio_net *net);
