/*
 * The virtio-vsock modes (README.md, "virtio-vsock"): vsock-echo-client,
 * vsock-echo-server, vsock-send, vsock-recv, vsock-refused, vsock-hostile,
 * vsock-ready and vsock-flood. tests/vsock/vsock-test.py plays the host side
 * through brig's unix-socket vsock (Firecracker's hybrid protocol).
 *
 * Every line starts with "vsock: "; the first after the device is up is
 * "vsock: guest_cid=N". A failure prints one "vsock: FAIL <why>" line and
 * powers off, as every mode does at its end (after the transmit queue drained).
 * Waits are bounded in milliseconds of idle time: vsock_idle() sleeps 1 ms with
 * the vCPU halted, so the bounds are wall-clock time under any emulator.
 */
#include "modes.h"

#include <stddef.h>

#include "cmdline.h"
#include "console.h"
#include "dma.h"
#include "power.h"
#include "timer.h"
#include "virtio_vsock.h"

#define DEFAULT_ECHO_CLIENT_PORT 5000u
#define DEFAULT_ECHO_SERVER_PORT 6000u
#define DEFAULT_SEND_PORT 5001u
#define DEFAULT_RECV_PORT 6001u
#define DEFAULT_REFUSED_PORT 5999u
#define DEFAULT_HOSTILE_PORT 5000u
#define DEFAULT_READY_PORT 7000u
#define DEFAULT_FLOOD_PORT 5002u
#define DEFAULT_ECHO_SIZE 4096u
#define DEFAULT_ECHO_COUNT 4u
#define DEFAULT_BYTES (1024u * 1024u)
#define DEFAULT_FLOOD_COUNT 2000u
#define MAX_FLOOD_COUNT 65536u
/* The echo server's limit, and what vsock-echo-server accepts at once. */
#define MAX_ECHO_CONNS 64u
#define HOSTILE_ECHO_SIZE 4096u
/* The flood's guest ports: base + i for REQUEST i, apart from vsock_connect's range. */
#define FLOOD_FIRST_PORT 0x10000u

/* Idle bounds (ms without anything happening); what works ends a wait at once. */
#define CONNECT_WAIT_MS 30000u
#define DATA_IDLE_MS 60000u
#define CLOSE_WAIT_MS 10000u
#define LISTEN_WAIT_MS 100000u
#define HOSTILE_WAIT_MS 5000u
#define FLUSH_WAIT_MS 10000u
#define FLOOD_ANSWER_WAIT_MS 15000u

static struct virtio_vsock vsock;
static bool fail_printed;

/* The flood's bookkeeping: which REQUESTs were answered, and the RSTs still to send (indices). */
static uint32_t flood_answered[MAX_FLOOD_COUNT / 32] DMA_AREA;
static uint16_t flood_rst_queue[MAX_FLOOD_COUNT] DMA_AREA;

static uint32_t option(const struct boot_info *info, const char *name, uint32_t fallback, uint32_t min,
                       uint32_t max) {
	uint64_t value = cmdline_number(info->cmdline, name, fallback);
	if (value < min) {
		return min;
	}
	return value > max ? max : (uint32_t)value;
}

/* Lets the last packets leave before the VMM goes away, then powers off. */
static __attribute__((noreturn)) void finish(void) {
	if (!vsock.failed && !vsock_tx_flush(&vsock, FLUSH_WAIT_MS) && !vsock.failed && !fail_printed) {
		console_write_line("vsock: FAIL tx flush: timeout");
	}
	power_off();
}

/* "vsock: FAIL " and the start of the reason; the caller completes the line. */
static void fail_start(const char *why) {
	fail_printed = true;
	console_write("vsock: FAIL ");
	console_write(why);
}

static __attribute__((noreturn)) void fail(const char *why) {
	fail_start(why);
	console_write("\n");
	finish();
}

/* A wait ended without what it waited for: the device failure was printed already, or it is a timeout. */
static __attribute__((noreturn)) void fail_wait(const char *what) {
	if (!vsock.failed) {
		fail_start(what);
		console_write(": timeout\n");
	}
	finish();
}

static void open_or_power_off_polling(bool poll) {
	if (!vsock_open(&vsock)) {
		power_off();
	}
	vsock.poll = poll;
}

static void open_or_power_off(const struct boot_info *info) {
	open_or_power_off_polling(cmdline_number(info->cmdline, "vsock.poll=", 0) != 0);
}

struct budget {
	uint32_t idle_ms;
	uint32_t limit_ms;
};

/* After a turn of the event loop: false when the device failed or the idle bound ran out. */
static bool keep_waiting(struct budget *budget, bool progress) {
	if (vsock.failed) {
		return false;
	}
	if (progress) {
		budget->idle_ms = 0;
		return true;
	}
	if (budget->idle_ms >= budget->limit_ms) {
		return false;
	}
	budget->idle_ms++;
	return vsock_idle(&vsock);
}

static void write_le64(uint8_t *bytes, uint64_t value) {
	for (uint32_t i = 0; i < 8; i++) {
		bytes[i] = (uint8_t)(value >> (8 * i));
	}
}

static uint64_t read_le64(const uint8_t *bytes) {
	uint64_t value = 0;
	for (uint32_t i = 0; i < 8; i++) {
		value |= (uint64_t)bytes[i] << (8 * i);
	}
	return value;
}

/* --- Connections -------------------------------------------------------------------- */

enum connect_result {
	CONNECT_OK,
	CONNECT_REFUSED, /* RST */
	CONNECT_TIMEOUT,
	CONNECT_FAILED, /* the device failed (reported) */
};

static enum connect_result connect_to(uint32_t port, struct vsock_conn **out) {
	struct vsock_conn *conn = vsock_connect(&vsock, port);
	*out = conn;
	if (conn == NULL) {
		fail("connection table full");
	}
	struct budget budget = {0, CONNECT_WAIT_MS};
	while (conn->state == VSOCK_CONNECTING) {
		if (!keep_waiting(&budget, vsock_service(&vsock))) {
			return vsock.failed ? CONNECT_FAILED : CONNECT_TIMEOUT;
		}
	}
	/* Accepted, even if the host hung up again in the same turn (brig's --ready-port does). */
	return conn->got_response ? CONNECT_OK : CONNECT_REFUSED;
}

/* Connects or fails with "vsock: FAIL WHAT: connection refused" (or timeout). */
static struct vsock_conn *connect_or_fail(uint32_t port, const char *what) {
	struct vsock_conn *conn;
	switch (connect_to(port, &conn)) {
	case CONNECT_OK:
		return conn;
	case CONNECT_REFUSED:
		fail_start(what);
		console_write(": connection refused port=");
		console_write_decimal(port);
		console_write("\n");
		finish();
	case CONNECT_TIMEOUT:
		fail_start(what);
		console_write(": connect timeout port=");
		console_write_decimal(port);
		console_write("\n");
		finish();
	default:
		finish();
	}
}

/* SHUTDOWN(both), then the device's RST or the end of a short wait (then an RST of our own). */
static bool close_conn(struct vsock_conn *conn) {
	vsock_shutdown(&vsock, conn, VSOCK_SHUTDOWN_BOTH);
	struct budget budget = {0, CLOSE_WAIT_MS};
	while (conn->state == VSOCK_CLOSING) {
		if (!keep_waiting(&budget, vsock_service(&vsock))) {
			vsock_reset(&vsock, conn);
			return false;
		}
	}
	return conn->got_rst;
}

/* --- Pattern streams: sending, and checking what comes back --------------------------- */

struct stream {
	struct vsock_conn *conn;
	bool adopt_accepted;    /* take the first accepted connection (vsock-recv) */
	uint32_t sent;          /* pattern bytes sent */
	uint32_t send_limit;
	uint32_t next_buffer;
	struct vsock_check check;
	uint32_t receive_limit; /* more than this coming back is an error (echo) */
	bool overrun;
	bool collect_reply;     /* take the host's 8-byte checksum instead (vsock-send) */
	uint8_t reply[8];
	uint32_t reply_bytes;
};

static struct stream stream;

static void stream_on_data(struct virtio_vsock *v, struct vsock_conn *conn, const struct vsock_rx_packet *packet) {
	struct stream *s = v->mode;
	if (s->conn == NULL && s->adopt_accepted && conn->accepted) {
		s->conn = conn;
	}
	if (conn == s->conn) {
		if (s->collect_reply) {
			for (uint32_t i = 0; i < packet->length && s->reply_bytes < sizeof s->reply; i++) {
				s->reply[s->reply_bytes++] = packet->payload[i];
			}
		} else {
			if (packet->length > s->receive_limit - vsock_check_length(&s->check)) {
				s->overrun = true;
			}
			vsock_check_bytes(&s->check, packet->payload, packet->length);
		}
	}
	vsock_consumed(v, conn, packet->length);
	vsock_rx_release(v, packet->buffer);
}

static void stream_init(struct vsock_conn *conn) {
	stream = (struct stream){.conn = conn};
	vsock_check_init(&stream.check);
	vsock.mode = &stream;
	vsock.on_data = stream_on_data;
}

/*
 * Sends the next piece of the pattern if the credit, a free payload buffer and
 * the transmit queue allow: up to 64 KiB, generated into the buffer just now
 * (the pattern depends on the word index). True when it sent something.
 */
static bool stream_send_step(struct stream *s) {
	struct vsock_conn *conn = s->conn;
	if (s->sent >= s->send_limit || conn->state != VSOCK_ESTABLISHED ||
	    (conn->peer_shutdown & VSOCK_SHUTDOWN_RECEIVE) || conn->pending != 0) {
		return false;
	}
	uint32_t credit = vsock_credit(conn);
	if (credit < 4) {
		/* The device sends CREDIT_UPDATE as it forwards; asking once per shortage does no harm. */
		if (!conn->credit_requested) {
			conn->credit_requested = true;
			vsock_send_control(&vsock, conn, VSOCK_OP_CREDIT_REQUEST, 0);
			return true;
		}
		return false;
	}
	uint32_t buffer = s->next_buffer;
	if (!vsock_tx_buffer_free(&vsock, buffer) || !vsock_tx_room(&vsock, 2)) {
		return false;
	}
	uint32_t chunk = s->send_limit - s->sent;
	if (chunk > VSOCK_MAX_PAYLOAD) {
		chunk = VSOCK_MAX_PAYLOAD;
	}
	if (chunk > (credit & ~3u)) {
		chunk = credit & ~3u;
	}
	uint32_t *words = vsock_tx_buffer(buffer);
	vsock_pattern_fill(words, s->sent / 4, chunk / 4);
	if (!vsock_send_rw(&vsock, conn, dma_address(words), chunk, VSOCK_OWNER_TX(buffer))) {
		return false;
	}
	vsock_kick(&vsock);
	s->sent += chunk;
	s->next_buffer = (buffer + 1) % VSOCK_TX_BUFFERS;
	return true;
}

enum echo_result {
	ECHO_OK,
	ECHO_CLOSED,  /* the connection ended in the middle */
	ECHO_OVERRUN, /* more came back than was sent */
	ECHO_BAD,     /* what came back was not the pattern */
	ECHO_TIMEOUT,
	ECHO_FAILED,  /* the device failed (reported) */
};

/* `count` rounds on `conn`: send `size` bytes of the pattern (continuing), read them back, compare. */
static enum echo_result echo_rounds(struct vsock_conn *conn, uint32_t count, uint32_t size, uint32_t *round_out) {
	stream_init(conn);
	for (uint32_t round = 0; round < count; round++) {
		*round_out = round;
		stream.send_limit = (round + 1) * size;
		stream.receive_limit = stream.send_limit;
		struct budget budget = {0, DATA_IDLE_MS};
		while (vsock_check_length(&stream.check) < stream.send_limit) {
			bool progress = vsock_service(&vsock);
			progress |= stream_send_step(&stream);
			if (stream.overrun) {
				return ECHO_OVERRUN;
			}
			if (conn->state != VSOCK_ESTABLISHED || conn->peer_shutdown != 0) {
				return ECHO_CLOSED;
			}
			if (!keep_waiting(&budget, progress)) {
				return vsock.failed ? ECHO_FAILED : ECHO_TIMEOUT;
			}
		}
		if (vsock_check_bad(&stream.check) != 0) {
			return ECHO_BAD;
		}
	}
	return ECHO_OK;
}

/* --- vsock-echo-client -------------------------------------------------------------- */

void mode_vsock_echo_client(const struct boot_info *info) {
	uint32_t port = option(info, "vsock.port=", DEFAULT_ECHO_CLIENT_PORT, 1, 0xffffffffu);
	uint32_t size = option(info, "vsock.size=", DEFAULT_ECHO_SIZE, 4, 1u << 24) & ~3u;
	uint32_t count = option(info, "vsock.count=", DEFAULT_ECHO_COUNT, 1, 0xffffffffu / size);
	open_or_power_off(info);
	struct vsock_conn *conn = connect_or_fail(port, "echo-client");
	uint32_t round = 0;
	enum echo_result result = echo_rounds(conn, count, size, &round);
	if (result != ECHO_OK) {
		if (result == ECHO_FAILED) {
			finish();
		}
		static const char *const why[] = {
		    [ECHO_CLOSED] = " connection closed",
		    [ECHO_OVERRUN] = " more bytes came back than were sent",
		    [ECHO_BAD] = " echo differs",
		    [ECHO_TIMEOUT] = " timeout",
		};
		fail_start("echo-client round=");
		console_write_decimal(round);
		console_write(why[result]);
		console_write(" bytes=");
		console_write_decimal(vsock_check_length(&stream.check));
		console_write(" bad=");
		console_write_decimal(vsock_check_bad(&stream.check));
		console_write("\n");
		finish();
	}
	close_conn(conn);
	console_write("vsock: echo-client ok count=");
	console_write_decimal(count);
	console_write(" size=");
	console_write_decimal(size);
	console_write("\n");
	finish();
}

/* --- vsock-echo-server -------------------------------------------------------------- */

/*
 * Received payload waiting to be echoed, oldest first. The echo is sent straight
 * from the receive buffer (its owner), which goes back to the device when the
 * transmission is done; each entry holds its own buffer, so VSOCK_RX_BUFFERS
 * entries are enough.
 */
struct held_data {
	uint32_t buffer;
	uint32_t conn;
	uint64_t address;
	uint32_t length;
};

static struct held_data held[VSOCK_RX_BUFFERS];
static uint32_t held_count;

static void echo_on_data(struct virtio_vsock *v, struct vsock_conn *conn, const struct vsock_rx_packet *packet) {
	if (held_count >= VSOCK_RX_BUFFERS) {
		/* Cannot happen (one entry per buffer); drop rather than overrun. */
		vsock_consumed(v, conn, packet->length);
		vsock_rx_release(v, packet->buffer);
		return;
	}
	held[held_count++] = (struct held_data){
		.buffer = packet->buffer,
		.conn = (uint32_t)(conn - v->conns),
		.address = dma_address(packet->payload),
		.length = packet->length,
	};
}

static bool conn_has_held(uint32_t index) {
	for (uint32_t i = 0; i < held_count; i++) {
		if (held[i].conn == index) {
			return true;
		}
	}
	return false;
}

/*
 * Echoes what it can, in order per connection: as much as each connection's
 * credit allows. A connection that is short of credit (or of descriptors) keeps
 * its later entries waiting too. Entries of connections that are gone are dropped.
 */
static bool echo_step(void) {
	bool progress = false;
	uint32_t blocked[(VSOCK_MAX_CONNS + 31) / 32] = {0};
	uint32_t kept = 0;
	for (uint32_t i = 0; i < held_count; i++) {
		struct held_data entry = held[i];
		struct vsock_conn *conn = &vsock.conns[entry.conn];
		uint32_t bit = 1u << (entry.conn & 31);
		if (conn->state != VSOCK_ESTABLISHED || (conn->peer_shutdown & VSOCK_SHUTDOWN_RECEIVE)) {
			vsock_consumed(&vsock, conn, entry.length);
			vsock_rx_release(&vsock, entry.buffer);
			progress = true;
			continue;
		}
		if (!(blocked[entry.conn / 32] & bit)) {
			uint32_t chunk = vsock_credit(conn);
			if (chunk > entry.length) {
				chunk = entry.length;
			}
			if (chunk == 0 && !conn->credit_requested) {
				conn->credit_requested = true;
				vsock_send_control(&vsock, conn, VSOCK_OP_CREDIT_REQUEST, 0);
				progress = true;
			}
			if (chunk != 0 && vsock_send_rw(&vsock, conn, entry.address, chunk, entry.buffer)) {
				entry.address += chunk;
				entry.length -= chunk;
				vsock_consumed(&vsock, conn, chunk);
				progress = true;
			}
			if (entry.length == 0) {
				vsock_rx_release(&vsock, entry.buffer);
				continue;
			}
		}
		blocked[entry.conn / 32] |= bit;
		held[kept++] = entry;
	}
	held_count = kept;
	return progress;
}

/*
 * The host half-closed (SHUTDOWN "will send no more") and everything was
 * echoed: close the guest's side too. Connections that are over (the host
 * closed or reset them) are counted and forgotten.
 */
static bool echo_reap(uint32_t *served) {
	bool progress = false;
	for (uint32_t i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *conn = &vsock.conns[i];
		if (!conn->accepted || conn->state == VSOCK_FREE || conn_has_held(i)) {
			continue;
		}
		if (conn->state == VSOCK_ESTABLISHED && (conn->peer_shutdown & VSOCK_SHUTDOWN_SEND)) {
			vsock_shutdown(&vsock, conn, VSOCK_SHUTDOWN_BOTH);
			progress = true;
		} else if (conn->state == VSOCK_CLOSED) {
			(*served)++;
			vsock_conn_free(conn);
			progress = true;
		}
	}
	return progress;
}

void mode_vsock_echo_server(const struct boot_info *info) {
	uint32_t port = option(info, "vsock.port=", DEFAULT_ECHO_SERVER_PORT, 1, 0xffffffffu);
	uint32_t conns = option(info, "vsock.conns=", 1, 1, 0xffffffffu);
	open_or_power_off(info);
	vsock.on_data = echo_on_data;
	vsock_listen(&vsock, port, MAX_ECHO_CONNS);
	console_write("vsock: listening port=");
	console_write_decimal(port);
	console_write("\n");
	uint32_t served = 0;
	struct budget budget = {0, LISTEN_WAIT_MS};
	while (served < conns) {
		bool progress = vsock_service(&vsock);
		progress |= echo_step();
		progress |= echo_reap(&served);
		if (!keep_waiting(&budget, progress)) {
			if (!vsock.failed) {
				fail_start("echo-server timeout served=");
				console_write_decimal(served);
				console_write(" accepted=");
				console_write_decimal(vsock.accepted_total);
				console_write("\n");
			}
			finish();
		}
	}
	console_write("vsock: echo-server served ");
	console_write_decimal(served);
	console_write("\n");
	finish();
}

/* --- vsock-send ----------------------------------------------------------------------- */

static __attribute__((noreturn)) void send_ended_early(struct vsock_conn *conn, uint32_t sent) {
	if (conn->state != VSOCK_CLOSED) {
		vsock_reset(&vsock, conn);
	}
	console_write("vsock: send ended early bytes=");
	console_write_decimal(sent);
	console_write("\n");
	finish();
}

void mode_vsock_send(const struct boot_info *info) {
	uint32_t port = option(info, "vsock.port=", DEFAULT_SEND_PORT, 1, 0xffffffffu);
	uint32_t bytes = option(info, "vsock.bytes=", DEFAULT_BYTES, 0, 0xfffffffcu) & ~3u;
	open_or_power_off(info);
	struct vsock_conn *conn = connect_or_fail(port, "send");
	stream_init(conn);
	stream.send_limit = bytes;
	stream.collect_reply = true;
	struct budget budget = {0, DATA_IDLE_MS};
	while (stream.sent < bytes) {
		bool progress = vsock_service(&vsock);
		progress |= stream_send_step(&stream);
		if (conn->state != VSOCK_ESTABLISHED || (conn->peer_shutdown & VSOCK_SHUTDOWN_RECEIVE)) {
			send_ended_early(conn, stream.sent);
		}
		if (!keep_waiting(&budget, progress)) {
			fail_wait("send");
		}
	}
	/* Everything is queued: "will send no more"; the host then sends its sum and closes. */
	vsock_shutdown(&vsock, conn, VSOCK_SHUTDOWN_SEND);
	budget = (struct budget){0, DATA_IDLE_MS};
	while (conn->state != VSOCK_CLOSED) {
		if (conn->state == VSOCK_ESTABLISHED && (conn->peer_shutdown & VSOCK_SHUTDOWN_SEND)) {
			/* The host half-closed instead of closing: both sides are done. */
			vsock_shutdown(&vsock, conn, VSOCK_SHUTDOWN_BOTH);
		}
		if (!keep_waiting(&budget, vsock_service(&vsock))) {
			fail_wait("send: waiting for the host to close");
		}
	}
	/* The device RSTs (rather than SHUTDOWNs) when the host went away before taking everything. */
	if (conn->peer_shutdown == 0 && stream.reply_bytes == 0) {
		send_ended_early(conn, stream.sent);
	}
	uint64_t sum = vsock_pattern_sum(bytes / 4);
	console_write("vsock: sent bytes=");
	console_write_decimal(bytes);
	console_write(" sum=");
	console_write_hex(sum);
	console_write("\n");
	if (stream.reply_bytes < sizeof stream.reply) {
		fail_start("send: the host's checksum has ");
		console_write_decimal(stream.reply_bytes);
		console_write(" bytes\n");
		finish();
	}
	uint64_t host_sum = read_le64(stream.reply);
	if (host_sum != sum) {
		fail_start("send: host sum=");
		console_write_hex(host_sum);
		console_write("\n");
		finish();
	}
	console_write_line("vsock: send ok");
	finish();
}

/* --- vsock-recv ----------------------------------------------------------------------- */

void mode_vsock_recv(const struct boot_info *info) {
	uint32_t port = option(info, "vsock.port=", DEFAULT_RECV_PORT, 1, 0xffffffffu);
	uint32_t bytes = option(info, "vsock.bytes=", DEFAULT_BYTES, 0, 0xfffffffcu) & ~3u;
	open_or_power_off(info);
	stream_init(NULL);
	stream.adopt_accepted = true;
	stream.receive_limit = 0xffffffffu;
	vsock_listen(&vsock, port, 1);
	console_write("vsock: listening port=");
	console_write_decimal(port);
	console_write("\n");
	struct budget budget = {0, LISTEN_WAIT_MS};
	while (stream.conn == NULL) {
		bool progress = vsock_service(&vsock);
		for (uint32_t i = 0; i < VSOCK_MAX_CONNS && stream.conn == NULL; i++) {
			if (vsock.conns[i].accepted && vsock.conns[i].state != VSOCK_FREE) {
				stream.conn = &vsock.conns[i];
			}
		}
		if (stream.conn == NULL && !keep_waiting(&budget, progress)) {
			fail_wait("recv: no connection");
		}
	}
	struct vsock_conn *conn = stream.conn;
	/* Until the host's "will send no more", or it closed or reset. */
	budget = (struct budget){0, DATA_IDLE_MS};
	while (conn->state == VSOCK_ESTABLISHED && !(conn->peer_shutdown & VSOCK_SHUTDOWN_SEND)) {
		if (!keep_waiting(&budget, vsock_service(&vsock))) {
			fail_wait("recv");
		}
	}
	uint32_t received = vsock_check_length(&stream.check);
	uint64_t sum = vsock_check_sum(&stream.check);
	uint32_t bad = vsock_check_bad(&stream.check);
	bool host_closed = conn->state != VSOCK_ESTABLISHED;
	bool sum_sent = false;
	if (!host_closed) {
		/* The checksum back (8 bytes, little-endian), then SHUTDOWN(both) and the RST. */
		uint32_t *reply = vsock_tx_buffer(0);
		budget = (struct budget){0, DATA_IDLE_MS};
		while (conn->state == VSOCK_ESTABLISHED && !sum_sent) {
			bool progress = vsock_service(&vsock);
			if (vsock_tx_buffer_free(&vsock, 0) && vsock_credit(conn) >= 8 && conn->pending == 0) {
				write_le64((uint8_t *)reply, sum);
				sum_sent = vsock_send_rw(&vsock, conn, dma_address(reply), 8, VSOCK_OWNER_TX(0));
				vsock_kick(&vsock);
			}
			if (!sum_sent && !keep_waiting(&budget, progress)) {
				fail_wait("recv: sending the checksum");
			}
		}
		close_conn(conn);
	}
	console_write("vsock: received bytes=");
	console_write_decimal(received);
	console_write(" sum=");
	console_write_hex(sum);
	console_write(" bad=");
	console_write_decimal(bad);
	console_write("\n");
	if (host_closed && received < bytes) {
		console_write("vsock: recv ended early bytes=");
		console_write_decimal(received);
		console_write("\n");
		finish();
	}
	if (!sum_sent) {
		/* The host closed (both ways) instead of half-closing: nowhere to send the sum. */
		console_write_line("vsock: recv sum not sent (the host closed)");
	}
	if (received != bytes || bad != 0) {
		fail_start("recv: expected bytes=");
		console_write_decimal(bytes);
		console_write(" bad=0\n");
		finish();
	}
	console_write_line("vsock: recv ok");
	finish();
}

/* --- vsock-refused and vsock-ready ---------------------------------------------------- */

void mode_vsock_refused(const struct boot_info *info) {
	uint32_t port = option(info, "vsock.port=", DEFAULT_REFUSED_PORT, 1, 0xffffffffu);
	open_or_power_off(info);
	struct vsock_conn *conn;
	switch (connect_to(port, &conn)) {
	case CONNECT_REFUSED:
		console_write_line("vsock: refused ok");
		finish();
	case CONNECT_OK:
		close_conn(conn);
		fail("refused: the connection was accepted");
	case CONNECT_TIMEOUT:
		fail("refused: no answer");
	default:
		finish();
	}
}

void mode_vsock_ready(const struct boot_info *info) {
	uint32_t port = option(info, "vsock.port=", DEFAULT_READY_PORT, 1, 0xffffffffu);
	open_or_power_off(info);
	struct vsock_conn *conn = connect_or_fail(port, "ready");
	console_write_line("vsock: ready connected");
	close_conn(conn);
	finish();
}

/* --- vsock-hostile -------------------------------------------------------------------- */

static void hostile_line(const char *name, const char *what) {
	console_write("vsock: hostile ");
	console_write(name);
	console_write(" ");
	console_write_line(what);
}

/* Waits (bounded) for the device's RST on the connection's port pair. */
static bool wait_rst(struct vsock_conn *conn) {
	struct budget budget = {0, HOSTILE_WAIT_MS};
	while (!conn->got_rst) {
		if (!keep_waiting(&budget, vsock_service(&vsock))) {
			return false;
		}
	}
	return true;
}

static void send_or_fail(const struct vsock_hdr *hdr, uint32_t header_bytes, uint64_t payload, uint32_t length) {
	struct budget budget = {0, HOSTILE_WAIT_MS};
	while (!vsock_send_raw(&vsock, hdr, header_bytes, payload, length)) {
		if (!keep_waiting(&budget, vsock_service(&vsock))) {
			fail_wait("hostile: transmit queue");
		}
	}
	vsock_kick(&vsock);
}

/* Leaves no connection behind on the device: an RST for the pair (ignored if it knows none). */
static void hostile_cleanup(struct vsock_conn *conn) {
	struct vsock_hdr hdr;
	vsock_fill_header(&vsock, conn, &hdr, VSOCK_OP_RST, 0, 0);
	send_or_fail(&hdr, VSOCK_HDR_BYTES, 0, 0);
	if (conn->state != VSOCK_CLOSED) {
		conn->state = VSOCK_CLOSED;
	}
}

static void hostile_report(const char *name, bool rst) {
	hostile_line(name, rst ? "rst=1" : "rst=0");
}

/* On a fresh established connection, one header-only packet: `op`, `len`, and fwd_cnt if not 0. */
static void hostile_established(uint32_t port, const char *name, uint32_t op, uint32_t len, uint32_t fwd_cnt) {
	struct vsock_conn *conn;
	enum connect_result result = connect_to(port, &conn);
	if (result != CONNECT_OK) {
		if (result != CONNECT_FAILED) {
			fail_start("hostile ");
			console_write(name);
			console_write(result == CONNECT_REFUSED ? ": connection refused port=" : ": connect timeout port=");
			console_write_decimal(port);
			console_write("\n");
		}
		finish();
	}
	struct vsock_hdr hdr;
	vsock_fill_header(&vsock, conn, &hdr, op, len, 0);
	if (fwd_cnt != 0) {
		hdr.fwd_cnt = fwd_cnt;
	}
	send_or_fail(&hdr, VSOCK_HDR_BYTES, 0, 0);
	hostile_report(name, wait_rst(conn));
	hostile_cleanup(conn);
}

static struct vsock_conn *raw_or_fail(uint32_t port) {
	struct vsock_conn *conn = vsock_raw(&vsock, vsock_fresh_port(&vsock), port);
	if (conn == NULL) {
		fail("hostile: connection table full");
	}
	return conn;
}

/* An RW with 4 payload bytes for a port pair that was never connected. */
static void hostile_rw_unknown(uint32_t port) {
	struct vsock_conn *conn = raw_or_fail(port);
	uint32_t *payload = vsock_tx_buffer(0);
	payload[0] = vsock_pattern_word(0);
	struct vsock_hdr hdr;
	vsock_fill_header(&vsock, conn, &hdr, VSOCK_OP_RW, 4, 0);
	send_or_fail(&hdr, VSOCK_HDR_BYTES, dma_address(payload), 4);
	hostile_report("rw-unknown", wait_rst(conn));
}

/* A REQUEST whose src_cid is not the guest's. */
static void hostile_bad_cid(uint32_t port) {
	struct vsock_conn *conn = raw_or_fail(port);
	struct vsock_hdr hdr;
	vsock_fill_header(&vsock, conn, &hdr, VSOCK_OP_REQUEST, 0, 0);
	hdr.src_cid = vsock.guest_cid + 1;
	send_or_fail(&hdr, VSOCK_HDR_BYTES, 0, 0);
	hostile_report("bad-cid", wait_rst(conn));
	if (conn->got_response) {
		/* It was accepted after all: close it under the right CID. */
		conn->state = VSOCK_ESTABLISHED;
		vsock_reset(&vsock, conn);
	}
}

/*
 * A transmit chain of 20 bytes, less than a header: nothing to answer. If the
 * device sets NEEDS_RESET for it, that is reported and the device set up again.
 */
static void hostile_short_header(uint32_t port) {
	struct vsock_conn *conn = raw_or_fail(port);
	struct vsock_hdr hdr;
	vsock_fill_header(&vsock, conn, &hdr, VSOCK_OP_REQUEST, 0, 0);
	send_or_fail(&hdr, 20, 0, 0);
	hostile_line("short-header", "sent");
	/* Until the device has used the chain or given up on the queue. */
	bool needs_reset = false;
	for (uint32_t ms = 0; ms < HOSTILE_WAIT_MS && vsock.tx.free_count != vsock.tx.size; ms++) {
		vsock_service(&vsock);
		if (virtio_status(&vsock.dev) & VIRTIO_STATUS_NEEDS_RESET) {
			needs_reset = true;
			break;
		}
		if (vsock.failed) {
			finish();
		}
		sleep_ms(1);
	}
	if (needs_reset) {
		hostile_line("short-header", "needs-reset=1");
		virtio_reset(&vsock.dev);
		const bool poll = vsock.poll;
		open_or_power_off_polling(poll);
	}
}

void mode_vsock_hostile(const struct boot_info *info) {
	uint32_t port = option(info, "vsock.port=", DEFAULT_HOSTILE_PORT, 1, 0xffffffffu);
	open_or_power_off(info);
	hostile_established(port, "huge-len", VSOCK_OP_RW, 0xffffffffu, 0);
	hostile_established(port, "unknown-op", 99, 0, 0);
	hostile_rw_unknown(port);
	hostile_established(port, "credit-lie", VSOCK_OP_CREDIT_UPDATE, 0, 1000000);
	hostile_bad_cid(port);
	hostile_short_header(port);
	/* One good echo round trip on a fresh connection. */
	struct vsock_conn *conn;
	bool recovered = false;
	if (connect_to(port, &conn) == CONNECT_OK) {
		uint32_t round;
		recovered = echo_rounds(conn, 1, HOSTILE_ECHO_SIZE, &round) == ECHO_OK;
		close_conn(conn);
	}
	if (vsock.failed) {
		finish();
	}
	console_write_line(recovered ? "vsock: hostile recovered=1" : "vsock: hostile recovered=0");
	finish();
}

/* --- vsock-flood ---------------------------------------------------------------------- */

struct flood {
	uint32_t port;
	uint32_t count;
	uint32_t responses;
	uint32_t resets;
	uint32_t rst_head;
	uint32_t rst_tail;
};

static struct flood flood;

static void flood_header(struct vsock_hdr *hdr, uint32_t index, uint32_t op) {
	*hdr = (struct vsock_hdr){
		.src_cid = vsock.guest_cid,
		.dst_cid = VSOCK_HOST_CID,
		.src_port = FLOOD_FIRST_PORT + index,
		.dst_port = flood.port,
		.type = VSOCK_TYPE_STREAM,
		.op = (uint16_t)op,
		.buf_alloc = VSOCK_BUF_ALLOC,
	};
}

/* Answers to the flood's REQUESTs: counted once each; every RESPONSE gets an RST. */
static bool flood_on_stray(struct virtio_vsock *v, const struct vsock_hdr *hdr) {
	(void)v;
	uint32_t index = hdr->dst_port - FLOOD_FIRST_PORT;
	if (hdr->src_port != flood.port || hdr->dst_port < FLOOD_FIRST_PORT || index >= flood.count) {
		return false;
	}
	uint32_t bit = 1u << (index & 31);
	if (hdr->op != VSOCK_OP_RESPONSE && hdr->op != VSOCK_OP_RST) {
		/* Anything else on a flood pair (a credit update, a shutdown) needs no answer. */
		return true;
	}
	if (flood_answered[index / 32] & bit) {
		return true;
	}
	flood_answered[index / 32] |= bit;
	if (hdr->op == VSOCK_OP_RESPONSE) {
		flood.responses++;
		flood_rst_queue[flood.rst_tail++] = (uint16_t)index;
	} else {
		flood.resets++;
	}
	return true;
}

void mode_vsock_flood(const struct boot_info *info) {
	flood = (struct flood){
		.port = option(info, "vsock.port=", DEFAULT_FLOOD_PORT, 1, 0xffffffffu),
		.count = option(info, "vsock.count=", DEFAULT_FLOOD_COUNT, 1, MAX_FLOOD_COUNT),
	};
	open_or_power_off(info);
	dma_zero(flood_answered, ((flood.count + 31) / 32) * 4);
	vsock.on_stray = flood_on_stray;
	uint32_t sent = 0;
	struct budget budget = {0, FLOOD_ANSWER_WAIT_MS};
	for (;;) {
		bool progress = vsock_service(&vsock);
		struct vsock_hdr hdr;
		/* RSTs first, so the device's table empties as fast as it fills. */
		while (flood.rst_head < flood.rst_tail && vsock_tx_room(&vsock, 1)) {
			flood_header(&hdr, flood_rst_queue[flood.rst_head], VSOCK_OP_RST);
			if (!vsock_send_raw(&vsock, &hdr, VSOCK_HDR_BYTES, 0, 0)) {
				break;
			}
			flood.rst_head++;
			progress = true;
		}
		while (sent < flood.count && vsock_tx_room(&vsock, 1)) {
			flood_header(&hdr, sent, VSOCK_OP_REQUEST);
			if (!vsock_send_raw(&vsock, &hdr, VSOCK_HDR_BYTES, 0, 0)) {
				break;
			}
			sent++;
			progress = true;
		}
		vsock_kick(&vsock);
		if (sent == flood.count && flood.responses + flood.resets == flood.count && flood.rst_head == flood.rst_tail) {
			break;
		}
		if (!keep_waiting(&budget, progress)) {
			if (vsock.failed) {
				finish();
			}
			break;
		}
	}
	console_write("vsock: flood sent ");
	console_write_decimal(sent);
	console_write(" responses=");
	console_write_decimal(flood.responses);
	console_write(" resets=");
	console_write_decimal(flood.resets);
	console_write("\n");
	finish();
}
