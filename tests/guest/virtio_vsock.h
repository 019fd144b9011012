/*
 * virtio-vsock (virtio 1.2, 5.10) on top of virtqueue.c, polled: queue 0
 * receives (device -> guest), queue 1 transmits, queue 2 takes events (posted,
 * then ignored). Stream sockets only, VIRTIO_F_VERSION_1 and nothing else (no
 * SEQPACKET). The guest is the config space's guest_cid, the host is CID 2.
 *
 * One event loop drives everything: vsock_service() takes finished
 * transmissions back, handles every received packet (connection set-up and
 * tear-down, credit, RST for strays) and hands RW payload to the mode's
 * on_data callback; control replies that find the transmit queue full wait in
 * the connection (pending bits) and go out on a later turn, so the receive
 * queue is always drained (5.10.6.1). Nothing here blocks; the modes wait with
 * vsock_idle(), which sleeps a millisecond, so their bounds are in wall-clock
 * time whatever the speed of brig's ring-0 emulator.
 *
 * The test pattern and checksum shared with tests/vsock/vsock-test.py are at the end.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "virtio_mmio.h"
#include "virtqueue.h"

#define VSOCK_DEVICE_ID 19u

#define VSOCK_RX_QUEUE 0
#define VSOCK_TX_QUEUE 1
#define VSOCK_EVENT_QUEUE 2

#define VSOCK_HOST_CID 2u

/* Config space (5.10.4): le64 guest_cid at 0. */
#define VSOCK_CONFIG_GUEST_CID 0

/* struct virtio_vsock_hdr (5.10.6), little-endian and packed. */
#define VSOCK_HDR_BYTES 44u
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_hdr) == VSOCK_HDR_BYTES, "virtio_vsock_hdr is 44 bytes");

#define VSOCK_TYPE_STREAM 1u

enum {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags: what the sender of the packet will no longer do. */
#define VSOCK_SHUTDOWN_RECEIVE 1u
#define VSOCK_SHUTDOWN_SEND 2u
#define VSOCK_SHUTDOWN_BOTH 3u

/* The largest payload in one packet either way; a receive buffer holds a header and that. */
#define VSOCK_MAX_PAYLOAD 65536u
#define VSOCK_RX_BUFFER_BYTES (VSOCK_HDR_BYTES + VSOCK_MAX_PAYLOAD)
/* What the guest advertises per connection (buf_alloc), and how much it consumes before telling the device. */
#define VSOCK_BUF_ALLOC (256u * 1024u)
#define VSOCK_CREDIT_SHARE (64u * 1024u)

/* Receive buffers (about 1 MiB in all), 64 KiB payload buffers for the modes, event buffers. */
#define VSOCK_RX_BUFFERS 16u
#define VSOCK_TX_BUFFERS 4u
#define VSOCK_EVENT_BUFFERS 4u
#define VSOCK_EVENT_BYTES 8u
/* Owners of transmitted payload (vsock_send_rw): receive buffers 0.., then the payload buffers. */
#define VSOCK_OWNER_NONE 0xffu
#define VSOCK_OWNER_TX(i) (VSOCK_RX_BUFFERS + (i))
#define VSOCK_OWNERS (VSOCK_RX_BUFFERS + VSOCK_TX_BUFFERS)

/* Connections at once: 64 accepted by the echo server, and a few of the guest's own. */
#define VSOCK_MAX_CONNS 72u

enum vsock_state {
	VSOCK_FREE = 0,
	VSOCK_RAW,         /* a port pair the mode made up: packets for it are only recorded */
	VSOCK_CONNECTING,  /* REQUEST sent, no answer yet */
	VSOCK_ESTABLISHED, /* data flows (the peer may have shut one side) */
	VSOCK_CLOSING,     /* SHUTDOWN(both) sent, waiting for the RST */
	VSOCK_CLOSED,      /* RST sent or received; kept until the mode frees it */
};

/* Control packets a connection still has to send (the transmit queue was full). */
enum {
	VSOCK_PENDING_REQUEST = 1,
	VSOCK_PENDING_RESPONSE = 2,
	VSOCK_PENDING_CREDIT_UPDATE = 4,
	VSOCK_PENDING_CREDIT_REQUEST = 8,
	VSOCK_PENDING_SHUTDOWN = 16,
	VSOCK_PENDING_RST = 32,
};

struct vsock_conn {
	uint8_t state;
	uint8_t pending;        /* VSOCK_PENDING_* */
	bool accepted;          /* the host connected to the guest */
	bool got_response;
	bool got_rst;
	bool credit_requested;  /* a CREDIT_REQUEST went out since the device last gave credit */
	uint32_t pending_shutdown_flags;
	uint32_t local_port;
	uint32_t peer_port;
	uint32_t peer_shutdown; /* SHUTDOWN flags the device sent so far */
	/* The device's figures from its last packet, and what the guest sent (5.10.6.3). */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt;
	/* Payload received, consumed, and the consumed count the device was last told. */
	uint32_t rx_cnt;
	uint32_t fwd_cnt;
	uint32_t fwd_cnt_told;
};

/* RW payload for the mode; the buffer stays the mode's until vsock_rx_release. */
struct vsock_rx_packet {
	const uint8_t *payload;
	uint32_t length;
	uint32_t buffer;
};

struct virtio_vsock;
typedef void (*vsock_data_fn)(struct virtio_vsock *v, struct vsock_conn *conn, const struct vsock_rx_packet *packet);
/* A packet for no connection the driver knows; returns true when the mode took care of it. */
typedef bool (*vsock_stray_fn)(struct virtio_vsock *v, const struct vsock_hdr *hdr);

#define VSOCK_STRAY_RSTS 16u

struct virtio_vsock {
	struct virtio_device dev;
	struct virtqueue rx;
	struct virtqueue tx;
	struct virtqueue event;
	uint64_t guest_cid;
	struct vsock_conn conns[VSOCK_MAX_CONNS];
	uint32_t next_port;       /* the guest's next own port for vsock_connect */
	uint32_t listen_port;     /* 0: not listening */
	uint32_t accept_limit;    /* accepted connections open at once at most */
	uint32_t accepted_total;
	vsock_data_fn on_data;    /* NULL: RW payload is consumed and dropped */
	vsock_stray_fn on_stray;
	void *mode;               /* the mode's own state, for its callbacks */
	/* Who owns the payload of each transmit chain (by head), and how many chains each owner has out. */
	uint8_t tx_owner[VQ_MAX_SIZE];
	uint16_t owner_refs[VSOCK_OWNERS];
	/* Which receive buffer a head descriptor carries; whether the mode has handed a buffer back. */
	uint8_t rx_head_buffer[VQ_MAX_SIZE];
	bool rx_released[VSOCK_RX_BUFFERS];
	bool rx_posted[VSOCK_RX_BUFFERS];
	uint8_t event_head_buffer[VQ_MAX_SIZE];
	/* RSTs for stray packets that found the transmit queue full: (guest port, host port) pairs. */
	uint32_t stray_rst[VSOCK_STRAY_RSTS][2];
	uint32_t stray_rst_count;
	bool tx_unkicked;
	bool rx_unkicked;
	/* The device broke a rule (ring bookkeeping, a packet longer than its chain, credit); the mode fails. */
	bool misbehaved;
	bool failed;              /* NEEDS_RESET or misbehaved: reported once */
	bool poll;                /* vsock.poll=1: an idle turn polls the rings for 1 ms instead of halting */
	uint32_t rx_packets;
	uint32_t rx_dropped;      /* packets not for this guest or too short to be one */
	uint32_t events;
};

/*
 * Finds the virtio-vsock device, negotiates VERSION_1, sets up the three queues,
 * DRIVER_OK, reads guest_cid, posts the receive and event buffers and prints
 * "vsock: guest_cid=N". Prints a "vsock: FAIL ..." line and returns false on failure.
 */
bool vsock_open(struct virtio_vsock *v);

/* One turn of the event loop (see above); true when anything happened. */
bool vsock_service(struct virtio_vsock *v);
/*
 * Called after a turn that did nothing: false, after printing "vsock: FAIL
 * device needs reset" (or the rule the device broke), when the device failed;
 * otherwise sleeps one millisecond and returns true.
 */
bool vsock_idle(struct virtio_vsock *v);
/* Notifies the device of everything added to the transmit and receive queues. */
void vsock_kick(struct virtio_vsock *v);

/* Accepts host connections to `port`, at most `limit` open at once (RST past that). */
void vsock_listen(struct virtio_vsock *v, uint32_t port, uint32_t limit);

/* A fresh guest port and a REQUEST to host port `peer_port`; NULL when the table is full. */
struct vsock_conn *vsock_connect(struct virtio_vsock *v, uint32_t peer_port);
/* A table entry for a port pair that is never connected (hostile packets); NULL when full. */
struct vsock_conn *vsock_raw(struct virtio_vsock *v, uint32_t local_port, uint32_t peer_port);
/* Forgets a connection (the mode is done with it). */
void vsock_conn_free(struct vsock_conn *conn);
/* A guest port no connection uses yet. */
uint32_t vsock_fresh_port(struct virtio_vsock *v);

/* Bytes the device takes on this connection now: peer_buf_alloc - (tx_cnt - peer_fwd_cnt). */
uint32_t vsock_credit(const struct vsock_conn *conn);
/* True when the transmit queue has `descriptors` free (after taking finished chains back). */
bool vsock_tx_room(struct virtio_vsock *v, uint32_t descriptors);

/*
 * Sends `length` payload bytes at `payload` (1..VSOCK_MAX_PAYLOAD, within the
 * credit) as one RW packet: header + payload descriptors. `owner` (VSOCK_OWNER_*,
 * a receive buffer index, or VSOCK_OWNER_NONE) is busy until the device is done
 * with the chain. False, sending nothing, when the connection is not established,
 * the credit or the transmit queue is short, or control packets are still pending.
 */
bool vsock_send_rw(struct virtio_vsock *v, struct vsock_conn *conn, uint64_t payload, uint32_t length, uint32_t owner);
/*
 * A header-only control packet on `conn` (SHUTDOWN, CREDIT_*, RST, ...); it
 * waits in the connection while the transmit queue is full.
 */
void vsock_send_control(struct virtio_vsock *v, struct vsock_conn *conn, uint32_t op, uint32_t flags);
/* SHUTDOWN with `flags`; with both flags the connection is CLOSING until the RST. */
void vsock_shutdown(struct virtio_vsock *v, struct vsock_conn *conn, uint32_t flags);
/* RST, and the connection is CLOSED. */
void vsock_reset(struct virtio_vsock *v, struct vsock_conn *conn);
/*
 * Sends a packet exactly as given: `header_bytes` of *hdr (at most 44; fewer for
 * a short chain), then `payload_length` bytes at `payload` if that is not 0.
 * For hostile packets and the flood; false when the transmit queue is full.
 */
bool vsock_send_raw(struct virtio_vsock *v, const struct vsock_hdr *hdr, uint32_t header_bytes, uint64_t payload,
                    uint32_t payload_length);
/* A header from the guest on `conn` with the guest's current credit in it. */
void vsock_fill_header(const struct virtio_vsock *v, struct vsock_conn *conn, struct vsock_hdr *hdr, uint32_t op,
                       uint32_t len, uint32_t flags);

/* The mode took `bytes` of received payload out of its buffer: fwd_cnt grows, the device is told every share. */
void vsock_consumed(struct virtio_vsock *v, struct vsock_conn *conn, uint32_t bytes);
/* Hands a receive buffer back; it goes back to the device once no transmission uses it. */
void vsock_rx_release(struct virtio_vsock *v, uint32_t buffer);
uint64_t vsock_rx_payload_address(uint32_t buffer);

/* The modes' 64 KiB payload buffers (owner VSOCK_OWNER_TX(i)); free when no transmission uses it. */
uint32_t *vsock_tx_buffer(uint32_t index);
bool vsock_tx_buffer_free(const struct virtio_vsock *v, uint32_t index);

/* Waits until the device has finished every transmission, about `limit_ms` at most. */
bool vsock_tx_flush(struct virtio_vsock *v, uint32_t limit_ms);

/* --- The test pattern and its checksum (tests/vsock/vsock-test.py has the same) ---------- */

/*
 * The byte stream is little-endian 32-bit words, word i = (uint32)(i * 2654435761).
 * Its checksum is Fletcher-style over the words: a += w; b += a (uint32 each,
 * from 0); sum = (uint64)b << 32 | a. An incomplete last word counts as padded
 * with zero bytes (the tests always send multiples of 4).
 */
#define VSOCK_PATTERN_MULTIPLIER 2654435761u

static inline uint32_t vsock_pattern_word(uint32_t index) {
	return index * VSOCK_PATTERN_MULTIPLIER;
}

/* words[0..count-1] = pattern words first.. (two instructions a word, unrolled by 8). */
void vsock_pattern_fill(uint32_t *words, uint32_t first, uint32_t count);

/* The checksum of pattern words 0..count-1, in closed form (no loop over the words). */
uint64_t vsock_pattern_sum(uint32_t count);

/*
 * Checks a received stream against the pattern, in pieces of any length. The
 * hot loop only compares (three instructions a word): the checksum of what came
 * is the pattern's closed form corrected by every mismatched word's difference d
 * at index i (a gets d, b gets d * (N - i) for N words in all), so it is exact
 * for any bytes whatever, and free when they are right.
 */
struct vsock_check {
	uint32_t words;          /* complete words so far */
	uint32_t expected;       /* the pattern word at index `words` */
	uint32_t bad;            /* words that were not the pattern */
	uint32_t delta_sum;      /* sum of d */
	uint32_t delta_weighted; /* sum of i * d */
	uint32_t partial;        /* the bytes of an incomplete word, little-endian */
	uint32_t partial_bytes;
};

void vsock_check_init(struct vsock_check *check);
void vsock_check_bytes(struct vsock_check *check, const uint8_t *bytes, uint32_t length);
/* Bytes checked so far. */
uint32_t vsock_check_length(const struct vsock_check *check);
/* The checksum of everything so far (an incomplete last word zero-padded), and the bad words including it. */
uint64_t vsock_check_sum(const struct vsock_check *check);
uint32_t vsock_check_bad(const struct vsock_check *check);
