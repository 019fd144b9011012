#include "virtio_vsock.h"

#include <stddef.h>

#include "console.h"
#include "dma.h"
#include "timer.h"

/* Queue sizes asked for (vq_setup takes the device's maximum if smaller). */
#define RX_QUEUE_SIZE 16u
#define TX_QUEUE_SIZE 64u
#define EVENT_QUEUE_SIZE 4u

#define NO_BUFFER 0xffu
/* tx_owner[] of a descriptor that heads no chain in flight (VSOCK_OWNER_NONE heads one without an owner). */
#define NOT_IN_FLIGHT 0xfeu

/* The guest's own ports for the connections it opens (Linux's ephemeral range starts here too). */
#define FIRST_GUEST_PORT 49152u

static struct vq_page queue_pages[3] DMA_AREA;
static uint8_t rx_buffers[VSOCK_RX_BUFFERS][VSOCK_RX_BUFFER_BYTES] DMA_AREA;
static uint32_t tx_buffers[VSOCK_TX_BUFFERS][VSOCK_MAX_PAYLOAD / 4] DMA_AREA;
/* The header of each transmit chain, indexed by its head descriptor. */
static struct vsock_hdr tx_headers[VQ_MAX_SIZE] DMA_AREA;
static uint8_t event_buffers[VSOCK_EVENT_BUFFERS][VSOCK_EVENT_BYTES] DMA_AREA;

static const struct {
	uint8_t bit;
	uint8_t op;
} pending_order[] = {
	{VSOCK_PENDING_REQUEST, VSOCK_OP_REQUEST},
	{VSOCK_PENDING_RESPONSE, VSOCK_OP_RESPONSE},
	{VSOCK_PENDING_CREDIT_UPDATE, VSOCK_OP_CREDIT_UPDATE},
	{VSOCK_PENDING_CREDIT_REQUEST, VSOCK_OP_CREDIT_REQUEST},
	{VSOCK_PENDING_SHUTDOWN, VSOCK_OP_SHUTDOWN},
	{VSOCK_PENDING_RST, VSOCK_OP_RST},
};

/* The first broken rule is reported; the mode sees `failed` and stops. */
static void misbehave(struct virtio_vsock *v, const char *what, uint32_t value) {
	v->misbehaved = true;
	if (!v->failed) {
		v->failed = true;
		console_write("vsock: FAIL device broke the rules: ");
		console_write(what);
		console_write(" ");
		console_write_decimal(value);
		console_write("\n");
	}
}

uint64_t vsock_rx_payload_address(uint32_t buffer) {
	return dma_address(rx_buffers[buffer] + VSOCK_HDR_BYTES);
}

uint32_t *vsock_tx_buffer(uint32_t index) {
	return tx_buffers[index];
}

bool vsock_tx_buffer_free(const struct virtio_vsock *v, uint32_t index) {
	return v->owner_refs[VSOCK_OWNER_TX(index)] == 0;
}

/* --- Receive buffers ------------------------------------------------------------ */

static void post_rx(struct virtio_vsock *v, uint32_t buffer) {
	struct vq_buffer b = {dma_address(rx_buffers[buffer]), VSOCK_RX_BUFFER_BYTES, true};
	/* There are never more buffers than ring entries, so this finds room. */
	int head = vq_add(&v->rx, &b, 1);
	if (head >= 0) {
		v->rx_head_buffer[head] = (uint8_t)buffer;
		v->rx_posted[buffer] = true;
		v->rx_released[buffer] = false;
		v->rx_unkicked = true;
	}
}

static void maybe_repost(struct virtio_vsock *v, uint32_t buffer) {
	if (v->rx_released[buffer] && !v->rx_posted[buffer] && v->owner_refs[buffer] == 0) {
		post_rx(v, buffer);
	}
}

void vsock_rx_release(struct virtio_vsock *v, uint32_t buffer) {
	if (buffer < VSOCK_RX_BUFFERS) {
		v->rx_released[buffer] = true;
		maybe_repost(v, buffer);
	}
}

static void post_event(struct virtio_vsock *v, uint32_t buffer) {
	struct vq_buffer b = {dma_address(event_buffers[buffer]), VSOCK_EVENT_BYTES, true};
	int head = vq_add(&v->event, &b, 1);
	if (head >= 0) {
		v->event_head_buffer[head] = (uint8_t)buffer;
	}
}

/* --- Transmission --------------------------------------------------------------- */

static bool reclaim_tx(struct virtio_vsock *v) {
	bool any = false;
	uint32_t head;
	uint32_t length;
	while (vq_poll(&v->tx, &head, &length)) {
		any = true;
		if (head >= v->tx.size || v->tx_owner[head] == NOT_IN_FLIGHT) {
			misbehave(v, "tx used id not in flight", head);
			continue;
		}
		uint32_t owner = v->tx_owner[head];
		v->tx_owner[head] = NOT_IN_FLIGHT;
		if (owner != VSOCK_OWNER_NONE && v->owner_refs[owner] > 0) {
			v->owner_refs[owner]--;
			if (owner < VSOCK_RX_BUFFERS) {
				maybe_repost(v, owner);
			}
		}
	}
	return any;
}

bool vsock_tx_room(struct virtio_vsock *v, uint32_t descriptors) {
	if (v->tx.free_count < descriptors) {
		reclaim_tx(v);
	}
	return v->tx.free_count >= descriptors;
}

/* One chain: the header (header_bytes of it), then the payload if there is any. */
static bool add_packet(struct virtio_vsock *v, const struct vsock_hdr *hdr, uint32_t header_bytes, uint64_t payload,
                       uint32_t payload_length, uint32_t owner) {
	uint32_t descriptors = payload_length != 0 ? 2 : 1;
	if (!vsock_tx_room(v, descriptors)) {
		return false;
	}
	/* The slot belongs to the head descriptor vq_add is about to take. */
	uint16_t slot = v->tx.free_head;
	tx_headers[slot] = *hdr;
	struct vq_buffer buffers[2] = {
		{dma_address(&tx_headers[slot]), header_bytes, false},
		{payload, payload_length, false},
	};
	int head = vq_add(&v->tx, buffers, descriptors);
	if (head < 0) {
		return false;
	}
	v->tx_owner[head] = (uint8_t)owner;
	if (owner != VSOCK_OWNER_NONE) {
		v->owner_refs[owner]++;
	}
	v->tx_unkicked = true;
	return true;
}

void vsock_kick(struct virtio_vsock *v) {
	if (v->tx_unkicked) {
		v->tx_unkicked = false;
		vq_kick(&v->tx);
	}
	if (v->rx_unkicked) {
		v->rx_unkicked = false;
		vq_kick(&v->rx);
	}
}

void vsock_fill_header(const struct virtio_vsock *v, struct vsock_conn *conn, struct vsock_hdr *hdr, uint32_t op,
                       uint32_t len, uint32_t flags) {
	*hdr = (struct vsock_hdr){
		.src_cid = v->guest_cid,
		.dst_cid = VSOCK_HOST_CID,
		.src_port = conn->local_port,
		.dst_port = conn->peer_port,
		.len = len,
		.type = VSOCK_TYPE_STREAM,
		.op = (uint16_t)op,
		.flags = flags,
		.buf_alloc = VSOCK_BUF_ALLOC,
		.fwd_cnt = conn->fwd_cnt,
	};
}

bool vsock_send_raw(struct virtio_vsock *v, const struct vsock_hdr *hdr, uint32_t header_bytes, uint64_t payload,
                    uint32_t payload_length) {
	if (header_bytes > VSOCK_HDR_BYTES) {
		header_bytes = VSOCK_HDR_BYTES;
	}
	return add_packet(v, hdr, header_bytes, payload, payload_length, VSOCK_OWNER_NONE);
}

static bool try_control(struct virtio_vsock *v, struct vsock_conn *conn, uint32_t op, uint32_t flags) {
	struct vsock_hdr hdr;
	vsock_fill_header(v, conn, &hdr, op, 0, flags);
	if (!add_packet(v, &hdr, VSOCK_HDR_BYTES, 0, 0, VSOCK_OWNER_NONE)) {
		return false;
	}
	conn->fwd_cnt_told = conn->fwd_cnt;
	return true;
}

static uint8_t pending_bit(uint32_t op) {
	for (uint32_t i = 0; i < sizeof pending_order / sizeof pending_order[0]; i++) {
		if (pending_order[i].op == op) {
			return pending_order[i].bit;
		}
	}
	return 0;
}

void vsock_send_control(struct virtio_vsock *v, struct vsock_conn *conn, uint32_t op, uint32_t flags) {
	/* Behind what is already waiting, to keep the order. */
	if (conn->pending == 0 && try_control(v, conn, op, flags)) {
		return;
	}
	conn->pending |= pending_bit(op);
	if (op == VSOCK_OP_SHUTDOWN) {
		conn->pending_shutdown_flags |= flags;
	}
	if (op == VSOCK_OP_RST) {
		/* Nothing else matters once it is reset. */
		conn->pending = VSOCK_PENDING_RST;
	}
}

/* Sends what a connection still owes, in order; false when the queue filled up again. */
static bool flush_conn(struct virtio_vsock *v, struct vsock_conn *conn, bool *sent) {
	for (uint32_t i = 0; i < sizeof pending_order / sizeof pending_order[0] && conn->pending != 0; i++) {
		uint8_t bit = pending_order[i].bit;
		if (!(conn->pending & bit)) {
			continue;
		}
		uint32_t flags = bit == VSOCK_PENDING_SHUTDOWN ? conn->pending_shutdown_flags : 0;
		if (!try_control(v, conn, pending_order[i].op, flags)) {
			return false;
		}
		conn->pending &= (uint8_t)~bit;
		*sent = true;
	}
	return true;
}

static bool send_stray_rst(struct virtio_vsock *v, uint32_t local_port, uint32_t peer_port) {
	struct vsock_hdr hdr = {
		.src_cid = v->guest_cid,
		.dst_cid = VSOCK_HOST_CID,
		.src_port = local_port,
		.dst_port = peer_port,
		.type = VSOCK_TYPE_STREAM,
		.op = VSOCK_OP_RST,
	};
	return add_packet(v, &hdr, VSOCK_HDR_BYTES, 0, 0, VSOCK_OWNER_NONE);
}

static void queue_stray_rst(struct virtio_vsock *v, uint32_t local_port, uint32_t peer_port) {
	if (v->stray_rst_count == 0 && send_stray_rst(v, local_port, peer_port)) {
		return;
	}
	/* Past the queue's end they are dropped: an RST is a courtesy, not a promise. */
	if (v->stray_rst_count < VSOCK_STRAY_RSTS) {
		v->stray_rst[v->stray_rst_count][0] = local_port;
		v->stray_rst[v->stray_rst_count][1] = peer_port;
		v->stray_rst_count++;
	}
}

/* Sends what waited for room in the transmit queue; true when anything went out. */
static bool flush_pending(struct virtio_vsock *v) {
	bool any = false;
	for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *conn = &v->conns[i];
		if (conn->pending != 0 && !flush_conn(v, conn, &any)) {
			return any;
		}
	}
	uint32_t sent = 0;
	while (sent < v->stray_rst_count && send_stray_rst(v, v->stray_rst[sent][0], v->stray_rst[sent][1])) {
		sent++;
	}
	if (sent != 0) {
		any = true;
		for (uint32_t i = sent; i < v->stray_rst_count; i++) {
			v->stray_rst[i - sent][0] = v->stray_rst[i][0];
			v->stray_rst[i - sent][1] = v->stray_rst[i][1];
		}
		v->stray_rst_count -= sent;
	}
	return any;
}

uint32_t vsock_credit(const struct vsock_conn *conn) {
	uint32_t in_flight = conn->tx_cnt - conn->peer_fwd_cnt;
	return in_flight >= conn->peer_buf_alloc ? 0 : conn->peer_buf_alloc - in_flight;
}

bool vsock_send_rw(struct virtio_vsock *v, struct vsock_conn *conn, uint64_t payload, uint32_t length, uint32_t owner) {
	if (conn->state != VSOCK_ESTABLISHED || (conn->peer_shutdown & VSOCK_SHUTDOWN_RECEIVE) || length == 0 ||
	    length > VSOCK_MAX_PAYLOAD || length > vsock_credit(conn)) {
		return false;
	}
	bool flushed = false;
	if (conn->pending != 0 && !flush_conn(v, conn, &flushed)) {
		return false;
	}
	struct vsock_hdr hdr;
	vsock_fill_header(v, conn, &hdr, VSOCK_OP_RW, length, 0);
	if (!add_packet(v, &hdr, VSOCK_HDR_BYTES, payload, length, owner)) {
		return false;
	}
	conn->tx_cnt += length;
	conn->fwd_cnt_told = conn->fwd_cnt;
	return true;
}

void vsock_shutdown(struct virtio_vsock *v, struct vsock_conn *conn, uint32_t flags) {
	if (conn->state != VSOCK_ESTABLISHED) {
		return;
	}
	vsock_send_control(v, conn, VSOCK_OP_SHUTDOWN, flags);
	if ((flags & VSOCK_SHUTDOWN_BOTH) == VSOCK_SHUTDOWN_BOTH) {
		conn->state = VSOCK_CLOSING;
	}
}

void vsock_reset(struct virtio_vsock *v, struct vsock_conn *conn) {
	if (conn->state == VSOCK_FREE || conn->state == VSOCK_RAW) {
		return;
	}
	conn->state = VSOCK_CLOSED;
	conn->pending = 0;
	vsock_send_control(v, conn, VSOCK_OP_RST, 0);
}

void vsock_consumed(struct virtio_vsock *v, struct vsock_conn *conn, uint32_t bytes) {
	conn->fwd_cnt += bytes;
	if (conn->state == VSOCK_ESTABLISHED && conn->fwd_cnt - conn->fwd_cnt_told >= VSOCK_CREDIT_SHARE &&
	    !(conn->pending & VSOCK_PENDING_CREDIT_UPDATE)) {
		vsock_send_control(v, conn, VSOCK_OP_CREDIT_UPDATE, 0);
	}
}

static bool nothing_pending(const struct virtio_vsock *v) {
	for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		if (v->conns[i].pending != 0) {
			return false;
		}
	}
	return v->stray_rst_count == 0;
}

bool vsock_tx_flush(struct virtio_vsock *v, uint32_t limit_ms) {
	for (uint32_t idle = 0; idle <= limit_ms; idle++) {
		vsock_service(v);
		if (v->tx.free_count == v->tx.size && nothing_pending(v)) {
			return true;
		}
		if (!vsock_idle(v)) {
			return false;
		}
	}
	return false;
}

/* --- Connections ---------------------------------------------------------------- */

static struct vsock_conn *find_conn(struct virtio_vsock *v, uint32_t local_port, uint32_t peer_port) {
	for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *conn = &v->conns[i];
		if (conn->state != VSOCK_FREE && conn->local_port == local_port && conn->peer_port == peer_port) {
			return conn;
		}
	}
	return NULL;
}

static struct vsock_conn *alloc_conn(struct virtio_vsock *v, uint32_t local_port, uint32_t peer_port,
                                     uint8_t state) {
	for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *conn = &v->conns[i];
		if (conn->state == VSOCK_FREE && conn->pending == 0) {
			dma_zero(conn, sizeof *conn);
			conn->state = state;
			conn->local_port = local_port;
			conn->peer_port = peer_port;
			return conn;
		}
	}
	return NULL;
}

void vsock_conn_free(struct vsock_conn *conn) {
	/* A pending RST still goes out: flush_pending sends it, then the slot is free. */
	conn->state = VSOCK_FREE;
	conn->pending &= VSOCK_PENDING_RST;
}

uint32_t vsock_fresh_port(struct virtio_vsock *v) {
	for (;;) {
		uint32_t port = v->next_port++;
		bool used = false;
		for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++) {
			if (v->conns[i].state != VSOCK_FREE && v->conns[i].local_port == port) {
				used = true;
			}
		}
		if (!used && port != v->listen_port) {
			return port;
		}
	}
}

struct vsock_conn *vsock_connect(struct virtio_vsock *v, uint32_t peer_port) {
	struct vsock_conn *conn = alloc_conn(v, vsock_fresh_port(v), peer_port, VSOCK_CONNECTING);
	if (conn != NULL) {
		vsock_send_control(v, conn, VSOCK_OP_REQUEST, 0);
		vsock_kick(v);
	}
	return conn;
}

struct vsock_conn *vsock_raw(struct virtio_vsock *v, uint32_t local_port, uint32_t peer_port) {
	return alloc_conn(v, local_port, peer_port, VSOCK_RAW);
}

void vsock_listen(struct virtio_vsock *v, uint32_t port, uint32_t limit) {
	v->listen_port = port;
	v->accept_limit = limit;
}

static uint32_t accepted_open(const struct virtio_vsock *v) {
	uint32_t open = 0;
	for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct vsock_conn *conn = &v->conns[i];
		if (conn->accepted && conn->state != VSOCK_FREE && conn->state != VSOCK_CLOSED) {
			open++;
		}
	}
	return open;
}

/* A packet for no connection: the mode's hook, a host connecting to the listening port, or RST. */
static void handle_stray(struct virtio_vsock *v, const struct vsock_hdr *hdr) {
	if (v->on_stray != NULL && v->on_stray(v, hdr)) {
		return;
	}
	if (hdr->op == VSOCK_OP_RST) {
		return;
	}
	if (hdr->op == VSOCK_OP_REQUEST && v->listen_port != 0 && hdr->dst_port == v->listen_port &&
	    accepted_open(v) < v->accept_limit) {
		struct vsock_conn *conn = alloc_conn(v, hdr->dst_port, hdr->src_port, VSOCK_ESTABLISHED);
		if (conn != NULL) {
			conn->accepted = true;
			conn->peer_buf_alloc = hdr->buf_alloc;
			conn->peer_fwd_cnt = hdr->fwd_cnt;
			v->accepted_total++;
			vsock_send_control(v, conn, VSOCK_OP_RESPONSE, 0);
			return;
		}
	}
	queue_stray_rst(v, hdr->dst_port, hdr->src_port);
}

/* The device's credit figures; false (and reported) when its fwd_cnt goes back or past what was sent. */
static bool take_credit(struct virtio_vsock *v, struct vsock_conn *conn, const struct vsock_hdr *hdr) {
	if ((uint32_t)(conn->tx_cnt - hdr->fwd_cnt) > (uint32_t)(conn->tx_cnt - conn->peer_fwd_cnt)) {
		misbehave(v, "fwd_cnt went back or past what the guest sent:", hdr->fwd_cnt);
		return false;
	}
	if (hdr->buf_alloc != conn->peer_buf_alloc || hdr->fwd_cnt != conn->peer_fwd_cnt) {
		conn->credit_requested = false;
	}
	conn->peer_buf_alloc = hdr->buf_alloc;
	conn->peer_fwd_cnt = hdr->fwd_cnt;
	return true;
}

/* Handles one received packet; returns true when the buffer went to the mode (on_data). */
static bool dispatch(struct virtio_vsock *v, const struct vsock_hdr *hdr, uint32_t buffer, uint32_t length) {
	struct vsock_conn *conn = find_conn(v, hdr->dst_port, hdr->src_port);
	if (conn == NULL) {
		handle_stray(v, hdr);
		return false;
	}
	uint32_t op = hdr->op;
	if (conn->state == VSOCK_RAW || conn->state == VSOCK_CLOSED) {
		/* Only recorded: the hostile cases look for the device's answer here. */
		if (op == VSOCK_OP_RST) {
			conn->got_rst = true;
		} else if (op == VSOCK_OP_RESPONSE) {
			conn->got_response = true;
		}
		return false;
	}
	if (op == VSOCK_OP_RST) {
		/* Also the answer to the guest's SHUTDOWN(both). Its credit fields mean nothing. */
		conn->got_rst = true;
		conn->state = VSOCK_CLOSED;
		conn->pending = 0;
		return false;
	}
	if (!take_credit(v, conn, hdr)) {
		return false;
	}
	switch (op) {
	case VSOCK_OP_RESPONSE:
		if (conn->state == VSOCK_CONNECTING) {
			conn->state = VSOCK_ESTABLISHED;
			conn->got_response = true;
		} else {
			vsock_reset(v, conn);
		}
		return false;
	case VSOCK_OP_SHUTDOWN:
		conn->peer_shutdown |= hdr->flags & VSOCK_SHUTDOWN_BOTH;
		/* Both ways shut (the host closed its socket): RST ends it, as Linux does. */
		if (conn->peer_shutdown == VSOCK_SHUTDOWN_BOTH) {
			vsock_reset(v, conn);
		}
		return false;
	case VSOCK_OP_RW:
		if (conn->state == VSOCK_CONNECTING) {
			vsock_reset(v, conn);
			return false;
		}
		if (conn->peer_shutdown & VSOCK_SHUTDOWN_SEND) {
			misbehave(v, "RW after SHUTDOWN(send), bytes", length);
			return false;
		}
		conn->rx_cnt += length;
		if (conn->rx_cnt - conn->fwd_cnt_told > VSOCK_BUF_ALLOC) {
			misbehave(v, "RW past the guest's credit, bytes in flight", conn->rx_cnt - conn->fwd_cnt_told);
			return false;
		}
		if (conn->state != VSOCK_ESTABLISHED || v->on_data == NULL || length == 0) {
			vsock_consumed(v, conn, length);
			return false;
		} else {
			struct vsock_rx_packet packet = {rx_buffers[buffer] + VSOCK_HDR_BYTES, length, buffer};
			v->on_data(v, conn, &packet);
			return true;
		}
	case VSOCK_OP_CREDIT_UPDATE:
		return false;
	case VSOCK_OP_CREDIT_REQUEST:
		vsock_send_control(v, conn, VSOCK_OP_CREDIT_UPDATE, 0);
		return false;
	default:
		/* REQUEST on an open connection, or an op that does not exist. */
		vsock_reset(v, conn);
		return false;
	}
}

static void handle_rx(struct virtio_vsock *v, uint32_t head, uint32_t used_length) {
	if (head >= v->rx.size || v->rx_head_buffer[head] == NO_BUFFER) {
		misbehave(v, "rx used id not in flight", head);
		return;
	}
	uint32_t buffer = v->rx_head_buffer[head];
	v->rx_head_buffer[head] = NO_BUFFER;
	v->rx_posted[buffer] = false;
	v->rx_packets++;
	if (used_length > VSOCK_RX_BUFFER_BYTES) {
		misbehave(v, "rx used len past the buffer", used_length);
		used_length = VSOCK_RX_BUFFER_BYTES;
	}
	if (used_length < VSOCK_HDR_BYTES) {
		misbehave(v, "rx used len shorter than a header", used_length);
		v->rx_dropped++;
		vsock_rx_release(v, buffer);
		return;
	}
	const struct vsock_hdr *hdr = (const struct vsock_hdr *)rx_buffers[buffer];
	uint32_t length = hdr->len;
	if (length > used_length - VSOCK_HDR_BYTES) {
		misbehave(v, "rx len past the used length", length);
		length = used_length - VSOCK_HDR_BYTES;
	}
	if (hdr->dst_cid != v->guest_cid || hdr->src_cid != VSOCK_HOST_CID || hdr->type != VSOCK_TYPE_STREAM) {
		misbehave(v, "rx packet not from the host to this guest, src_cid", (uint32_t)hdr->src_cid);
		v->rx_dropped++;
		vsock_rx_release(v, buffer);
		return;
	}
	if (!dispatch(v, hdr, buffer, length)) {
		vsock_rx_release(v, buffer);
	}
}

bool vsock_service(struct virtio_vsock *v) {
	bool progress = reclaim_tx(v);
	uint32_t head;
	uint32_t length;
	/* At most a ring's worth per turn, so the mode gets to send in between. */
	for (uint32_t taken = 0; taken < v->rx.size && vq_poll(&v->rx, &head, &length); taken++) {
		handle_rx(v, head, length);
		progress = true;
	}
	while (vq_poll(&v->event, &head, &length)) {
		/* Events (VIRTIO_VSOCK_EVENT_TRANSPORT_RESET) are counted, the buffer goes back. */
		v->events++;
		if (head < v->event.size && v->event_head_buffer[head] != NO_BUFFER) {
			uint32_t buffer = v->event_head_buffer[head];
			v->event_head_buffer[head] = NO_BUFFER;
			post_event(v, buffer);
			vq_kick(&v->event);
		}
		progress = true;
	}
	if (flush_pending(v)) {
		progress = true;
	}
	vsock_kick(v);
	return progress;
}

/* The device has used a buffer we have not looked at yet. */
static bool rings_moved(void *arg) {
	const struct virtio_vsock *v = arg;
	return v->rx.used->idx != v->rx.last_used || v->tx.used->idx != v->tx.last_used;
}

bool vsock_idle(struct virtio_vsock *v) {
	if (v->failed) {
		return false;
	}
	if (virtio_status(&v->dev) & VIRTIO_STATUS_NEEDS_RESET) {
		v->failed = true;
		console_write_line("vsock: FAIL device needs reset");
		return false;
	}
	if (v->poll)
		poll_ms(1, rings_moved, v);
	else
		sleep_ms(1);
	return true;
}

bool vsock_open(struct virtio_vsock *v) {
	dma_zero(v, sizeof *v);
	if (!virtio_find(VSOCK_DEVICE_ID, &v->dev)) {
		console_write_line("vsock: FAIL no device");
		return false;
	}
	/* VERSION_1 and nothing else: no SEQPACKET, no EVENT_IDX. */
	if (!virtio_negotiate(&v->dev, 0)) {
		console_write_line("vsock: FAIL feature negotiation");
		return false;
	}
	if (!vq_setup(&v->rx, &v->dev, VSOCK_RX_QUEUE, &queue_pages[0], RX_QUEUE_SIZE) ||
	    !vq_setup(&v->tx, &v->dev, VSOCK_TX_QUEUE, &queue_pages[1], TX_QUEUE_SIZE) ||
	    !vq_setup(&v->event, &v->dev, VSOCK_EVENT_QUEUE, &queue_pages[2], EVENT_QUEUE_SIZE)) {
		console_write_line("vsock: FAIL queue setup");
		return false;
	}
	for (uint32_t i = 0; i < VQ_MAX_SIZE; i++) {
		v->tx_owner[i] = NOT_IN_FLIGHT;
		v->rx_head_buffer[i] = NO_BUFFER;
		v->event_head_buffer[i] = NO_BUFFER;
	}
	v->next_port = FIRST_GUEST_PORT;
	virtio_driver_ok(&v->dev);
	v->guest_cid = virtio_config_read64(&v->dev, VSOCK_CONFIG_GUEST_CID);
	/* One descriptor per buffer: the ring holds as many buffers as it has entries. */
	uint32_t rx_buffers_used = v->rx.size < VSOCK_RX_BUFFERS ? v->rx.size : VSOCK_RX_BUFFERS;
	for (uint32_t i = 0; i < rx_buffers_used; i++) {
		post_rx(v, i);
	}
	uint32_t event_buffers_used = v->event.size < VSOCK_EVENT_BUFFERS ? v->event.size : VSOCK_EVENT_BUFFERS;
	for (uint32_t i = 0; i < event_buffers_used; i++) {
		post_event(v, i);
	}
	vsock_kick(v);
	vq_kick(&v->event);
	console_write("vsock: guest_cid=");
	console_write_decimal(v->guest_cid);
	console_write("\n");
	return true;
}

/* --- Pattern and checksum ------------------------------------------------------- */

#define K VSOCK_PATTERN_MULTIPLIER

/* Reads a received word wherever it lies (x86 does unaligned loads; this keeps C honest about it). */
typedef uint32_t unaligned_u32 __attribute__((aligned(1), may_alias));

void vsock_pattern_fill(uint32_t *words, uint32_t first, uint32_t count) {
	uint32_t value = first * K;
	for (; count >= 8; count -= 8) {
		words[0] = value;
		words[1] = value + K;
		words[2] = value + 2u * K;
		words[3] = value + 3u * K;
		words[4] = value + 4u * K;
		words[5] = value + 5u * K;
		words[6] = value + 6u * K;
		words[7] = value + 7u * K;
		value += 8u * K;
		words += 8;
	}
	for (; count > 0; count--) {
		*words++ = value;
		value += K;
	}
}

/* n(n-1)/2 and (n+1)n(n-1)/6 modulo 2^32: divide exactly first, then multiply with wrap-around. */
static uint32_t triangle(uint32_t n) {
	return (n & 1) ? n * ((n - 1) / 2) : (n / 2) * (n - 1);
}

static uint32_t tetrahedral(uint32_t n) {
	if (n < 2) {
		return 0;
	}
	uint32_t factors[3] = {n + 1, n, n - 1};
	/* Three consecutive numbers: one is divisible by 3, one by 2 (dividing by 3 keeps parity). */
	for (uint32_t i = 0; i < 3; i++) {
		if (factors[i] % 3 == 0) {
			factors[i] /= 3;
			break;
		}
	}
	for (uint32_t i = 0; i < 3; i++) {
		if (factors[i] % 2 == 0) {
			factors[i] /= 2;
			break;
		}
	}
	return factors[0] * factors[1] * factors[2];
}

/*
 * After n pattern words, a = sum of i*K for i < n = K * n(n-1)/2, and b = the
 * sum of a after each word = K * sum of m(m-1)/2 for m = 1..n = K * (n+1)n(n-1)/6.
 */
uint64_t vsock_pattern_sum(uint32_t count) {
	uint32_t a = K * triangle(count);
	uint32_t b = K * tetrahedral(count);
	return ((uint64_t)b << 32) | a;
}

void vsock_check_init(struct vsock_check *check) {
	*check = (struct vsock_check){.expected = vsock_pattern_word(0)};
}

/* The slow path: one word that may not be the pattern. */
static void check_word(struct vsock_check *check, uint32_t word) {
	if (word != check->expected) {
		uint32_t delta = word - check->expected;
		check->bad++;
		check->delta_sum += delta;
		check->delta_weighted += check->words * delta;
	}
	check->words++;
	check->expected += K;
}

/*
 * How many of the `count` words match the pattern from `expected` on, before
 * the first that does not: about three instructions a word (compare, branch,
 * add), unrolled by 8 so the loop itself costs little.
 */
static uint32_t matching_words(const unaligned_u32 *words, uint32_t count, uint32_t expected) {
	const unaligned_u32 *p = words;
	const unaligned_u32 *end = words + (count & ~7u);
	for (; p != end; p += 8, expected += 8u * K) {
		if (p[0] != expected) {
			return (uint32_t)(p - words);
		}
		if (p[1] != expected + K) {
			return (uint32_t)(p - words) + 1;
		}
		if (p[2] != expected + 2u * K) {
			return (uint32_t)(p - words) + 2;
		}
		if (p[3] != expected + 3u * K) {
			return (uint32_t)(p - words) + 3;
		}
		if (p[4] != expected + 4u * K) {
			return (uint32_t)(p - words) + 4;
		}
		if (p[5] != expected + 5u * K) {
			return (uint32_t)(p - words) + 5;
		}
		if (p[6] != expected + 6u * K) {
			return (uint32_t)(p - words) + 6;
		}
		if (p[7] != expected + 7u * K) {
			return (uint32_t)(p - words) + 7;
		}
	}
	end = words + count;
	for (; p != end; p++, expected += K) {
		if (*p != expected) {
			break;
		}
	}
	return (uint32_t)(p - words);
}

void vsock_check_bytes(struct vsock_check *check, const uint8_t *bytes, uint32_t length) {
	/* First complete a word the last piece left unfinished. */
	while (check->partial_bytes != 0 && length > 0) {
		check->partial |= (uint32_t)*bytes++ << (8 * check->partial_bytes);
		length--;
		if (++check->partial_bytes == 4) {
			uint32_t word = check->partial;
			check->partial = 0;
			check->partial_bytes = 0;
			check_word(check, word);
		}
	}
	const unaligned_u32 *words = (const unaligned_u32 *)bytes;
	uint32_t count = length / 4;
	while (count > 0) {
		uint32_t good = matching_words(words, count, check->expected);
		check->words += good;
		check->expected += good * K;
		words += good;
		count -= good;
		if (count > 0) {
			check_word(check, *words);
			words++;
			count--;
		}
	}
	const uint8_t *rest = (const uint8_t *)words;
	for (uint32_t i = 0; i < (length & 3); i++) {
		check->partial |= (uint32_t)rest[i] << (8 * check->partial_bytes);
		check->partial_bytes++;
	}
}

uint32_t vsock_check_length(const struct vsock_check *check) {
	return check->words * 4 + check->partial_bytes;
}

/* The state with an incomplete last word counted, zero-padded. */
static struct vsock_check check_completed(const struct vsock_check *check) {
	struct vsock_check done = *check;
	if (done.partial_bytes != 0) {
		check_word(&done, done.partial);
	}
	return done;
}

uint64_t vsock_check_sum(const struct vsock_check *check) {
	struct vsock_check done = check_completed(check);
	uint32_t n = done.words;
	/* Word i off by d adds d to a, and d to each of the N - i later values of a that b sums. */
	uint32_t a = K * triangle(n) + done.delta_sum;
	uint32_t b = K * tetrahedral(n) + n * done.delta_sum - done.delta_weighted;
	return ((uint64_t)b << 32) | a;
}

uint32_t vsock_check_bad(const struct vsock_check *check) {
	return check_completed(check).bad;
}
