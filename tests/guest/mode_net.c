/*
 * The virtio-net modes (README.md, "virtio-net"): net-arp, net-ping,
 * net-responder, net-udp-tx, net-udp-rx and the net-hostile-* cases. The guest
 * is net.ip (default 10.77.0.2), the host side net.peer (default 10.77.0.1);
 * every mode answers ARP requests for net.ip while it runs. Results are one line
 * each; failures print a line starting with "net: FAIL" and power off.
 */
#include "modes.h"

#include <stddef.h>

#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "dma.h"
#include "net_proto.h"
#include "power.h"
#include "virtio_net.h"

#define DEFAULT_IP 0x0a4d0002u   /* 10.77.0.2 */
#define DEFAULT_PEER 0x0a4d0001u /* 10.77.0.1 */

#define ECHO_ID 0x4252u /* "BR" */
#define DEFAULT_PING_COUNT 4u
#define DEFAULT_PING_SIZE 56u
#define MAX_PING_SIZE (IPV4_MAX_PACKET - IPV4_HEADER_BYTES - ICMP_HEADER_BYTES)
#define DEFAULT_REPLIES 3u
#define DEFAULT_UDP_COUNT 1000u
#define DEFAULT_UDP_SIZE 1024u
#define DEFAULT_UDP_PORT 5001u
/* net-udp-rx keeps one bit per sequence number. */
#define MAX_UDP_RX_COUNT 65536u

/*
 * Every wait is counted in "checks": WAIT_SPINS polls of the used rings, then
 * one Status read (NEEDS_RESET ends the wait). Under QEMU TCG one check takes
 * about 15 us (measured); in brig's ring-0 emulator a few milliseconds, where
 * the device is slower too. The numbers only bound waits for things that went
 * wrong (ARP_WAIT_CHECKS is a quarter of a second under QEMU); what works ends
 * a wait at once.
 */
#define WAIT_SPINS 256u
#define ARP_ATTEMPTS 4u
#define ARP_WAIT_CHECKS (1u << 14)
#define PING_ATTEMPTS 3u
#define PING_WAIT_CHECKS (1u << 14)
/* The host starts pinging once it sees the "listening" line; about two minutes under QEMU. */
#define RESPONDER_WAIT_CHECKS (1u << 23)
/* net-udp-rx: how long (2 s under QEMU) without a new good datagram before it stops; "ready" is sent this often. */
#define UDP_RX_IDLE_CHECKS (1u << 17)
#define UDP_RX_READY_ATTEMPTS 4u
/* The hostile cases: how long the device gets to react (0.2 s under QEMU, tens of seconds in brig). */
#define HOSTILE_WAIT_CHECKS (1u << 15)

/* A page that is not RAM in brig's or QEMU's guest-physical map (above any RAM they give a test). */
#define ADDRESS_OUTSIDE_RAM 0xfff00000000ull
#define HOSTILE_LONG_EXTRA 100u
#define HOSTILE_LONG_BLOCK (16u * 1024u)
#define HOSTILE_GSO_SIZE 1448u

static const char ready_message[] = "ready";

/* pattern_bytes[j] = j & 0xff: a UDP payload's pattern is a window of it (see send_udp_pattern). */
static uint8_t pattern_bytes[256 + UDP_MAX_PAYLOAD] DMA_AREA;
/* tx-long describes this block several times over, so that 64 KiB are sent without 64 KiB of memory. */
static uint8_t long_block[HOSTILE_LONG_BLOCK] DMA_AREA;
static uint32_t udp_seen[MAX_UDP_RX_COUNT / 32];

struct session {
	struct virtio_net net;
	struct net_options options;
	uint32_t ip;
	uint32_t peer;
	uint8_t peer_mac[ETH_ADDR_BYTES];
	uint32_t ip_id;
	bool device_failed; /* NEEDS_RESET or a broken rule: nothing more to expect */
};

enum wait_result {
	WAIT_FRAME,
	WAIT_TIMEOUT,
	WAIT_DEVICE_FAILED,
};

static void session_init(struct session *s, const struct boot_info *info) {
	s->ip = cmdline_ipv4(info->cmdline, "net.ip=", DEFAULT_IP);
	s->peer = cmdline_ipv4(info->cmdline, "net.peer=", DEFAULT_PEER);
	net_options_from_cmdline(&s->options, info->cmdline);
	s->ip_id = 1;
	s->device_failed = false;
}

static void open_or_power_off(struct session *s, const struct boot_info *info) {
	session_init(s, info);
	if (!net_open(&s->net, &s->options)) {
		power_off();
	}
}

/* Lets the last frames leave before the VMM goes away, then powers off. */
static __attribute__((noreturn)) void finish(struct session *s) {
	if (!s->device_failed) {
		net_tx_flush(&s->net);
	}
	power_off();
}

static uint32_t option(const struct boot_info *info, const char *name, uint32_t fallback, uint32_t min,
                       uint32_t max) {
	uint64_t value = cmdline_number(info->cmdline, name, fallback);
	if (value < min) {
		return min;
	}
	return value > max ? max : (uint32_t)value;
}

static bool send_arp(struct session *s, uint32_t operation, const uint8_t *target_mac, uint32_t target_ip) {
	uint8_t *frame = net_tx_frame(&s->net);
	if (frame == NULL) {
		s->device_failed = true;
		return false;
	}
	struct arp_packet arp = {.operation = operation, .sender_ip = s->ip, .target_ip = target_ip};
	mac_copy(arp.sender_mac, s->net.mac);
	mac_copy(arp.target_mac, target_mac);
	return net_tx_send(&s->net, arp_write_frame(frame, s->net.mac, &arp));
}

/* Answers an ARP request for our address; true when the frame was one (it is then released). */
static bool answer_arp_request(struct session *s, const struct net_frame *frame) {
	struct arp_packet arp;
	if (!arp_parse_frame(frame->data, frame->length, &arp) || arp.operation != ARP_REQUEST ||
	    arp.target_ip != s->ip) {
		return false;
	}
	send_arp(s, ARP_REPLY, arp.sender_mac, arp.sender_ip);
	net_release(&s->net, frame);
	return true;
}

/*
 * The next frame that is not an ARP request for us (those are answered here),
 * within `*checks` checks, which it counts down so that several calls share one
 * budget.
 */
static enum wait_result wait_frame(struct session *s, struct net_frame *frame, uint32_t *checks) {
	while (*checks > 0 && !s->device_failed) {
		for (uint32_t spin = 0; spin < WAIT_SPINS; spin++) {
			if (net_poll(&s->net, frame)) {
				if (!answer_arp_request(s, frame)) {
					return WAIT_FRAME;
				}
			}
		}
		(*checks)--;
		if (net_needs_reset(&s->net)) {
			console_write_line("net: FAIL device needs reset");
			s->device_failed = true;
		} else if (s->net.misbehaved) {
			console_write_line("net: FAIL device broke the ring rules");
			s->device_failed = true;
		}
	}
	return s->device_failed ? WAIT_DEVICE_FAILED : WAIT_TIMEOUT;
}

/* Keeps the receive queue moving (and ARP answered) while a mode is busy sending. */
static void serve_pending(struct session *s) {
	struct net_frame frame;
	while (net_poll(&s->net, &frame)) {
		if (!answer_arp_request(s, &frame)) {
			net_release(&s->net, &frame);
		}
	}
}

/* ARP for net.peer: "net: arp reply ip=.. mac=..", "net: arp ok". */
static bool arp_resolve(struct session *s) {
	static const uint8_t unknown_mac[ETH_ADDR_BYTES] = {0};
	for (uint32_t attempt = 0; attempt < ARP_ATTEMPTS; attempt++) {
		if (!send_arp(s, ARP_REQUEST, unknown_mac, s->peer)) {
			return false;
		}
		uint32_t checks = ARP_WAIT_CHECKS;
		struct net_frame frame;
		enum wait_result result;
		while ((result = wait_frame(s, &frame, &checks)) == WAIT_FRAME) {
			struct arp_packet arp;
			bool reply = arp_parse_frame(frame.data, frame.length, &arp) && arp.operation == ARP_REPLY &&
			             arp.sender_ip == s->peer && arp.target_ip == s->ip;
			if (reply) {
				mac_copy(s->peer_mac, arp.sender_mac);
			}
			net_release(&s->net, &frame);
			if (reply) {
				console_write("net: arp reply ip=");
				write_ipv4(s->peer);
				console_write(" mac=");
				write_mac(s->peer_mac);
				console_write("\n");
				console_write_line("net: arp ok");
				return true;
			}
		}
		if (result == WAIT_DEVICE_FAILED) {
			return false;
		}
	}
	console_write("net: FAIL arp timeout ip=");
	write_ipv4(s->peer);
	console_write("\n");
	return false;
}

void mode_net_arp(const struct boot_info *info) {
	struct session s;
	open_or_power_off(&s, info);
	arp_resolve(&s);
	finish(&s);
}

/* --- net-ping ----------------------------------------------------------------- */

static bool send_echo_request(struct session *s, uint32_t seq, uint32_t size) {
	uint8_t *frame = net_tx_frame(&s->net);
	if (frame == NULL) {
		s->device_failed = true;
		return false;
	}
	uint32_t icmp_length = ICMP_HEADER_BYTES + size;
	uint32_t offset =
	    ipv4_write_headers(frame, s->peer_mac, s->net.mac, s->ip, s->peer, IPV4_PROTO_ICMP, s->ip_id++, icmp_length);
	uint8_t *icmp = frame + offset;
	icmp[0] = ICMP_ECHO_REQUEST;
	icmp[1] = 0;
	put_be16(icmp + 2, 0);
	put_be16(icmp + 4, ECHO_ID);
	put_be16(icmp + 6, seq);
	for (uint32_t i = 0; i < size; i++) {
		icmp[ICMP_HEADER_BYTES + i] = net_pattern_byte(seq, i);
	}
	put_be16(icmp + 2, checksum_fold(checksum_add(0, icmp, icmp_length)));
	return net_tx_send(&s->net, offset + icmp_length);
}

enum echo_check {
	ECHO_OTHER, /* not the reply we wait for */
	ECHO_OK,
	ECHO_BAD, /* the reply, damaged; *why says how */
};

static enum echo_check check_echo_reply(const struct session *s, const struct net_frame *frame, uint32_t seq,
                                        uint32_t size, const char **why) {
	struct ipv4_packet ip;
	enum ipv4_parse_result parsed = ipv4_parse_frame(frame->data, frame->length, &ip);
	if (parsed != IPV4_OK && parsed != IPV4_BAD_CHECKSUM) {
		return ECHO_OTHER;
	}
	if (ip.src != s->peer || ip.dst != s->ip || ip.protocol != IPV4_PROTO_ICMP) {
		return ECHO_OTHER;
	}
	const uint8_t *icmp = ip.payload;
	if (ip.payload_length < ICMP_HEADER_BYTES || icmp[0] != ICMP_ECHO_REPLY || get_be16(icmp + 4) != ECHO_ID ||
	    get_be16(icmp + 6) != seq) {
		/* Also a late reply to an earlier attempt. */
		return ECHO_OTHER;
	}
	if (parsed == IPV4_BAD_CHECKSUM) {
		*why = "ipv4-checksum";
		return ECHO_BAD;
	}
	if (icmp[1] != 0) {
		*why = "code";
		return ECHO_BAD;
	}
	if (ip.payload_length != ICMP_HEADER_BYTES + size) {
		*why = "length";
		return ECHO_BAD;
	}
	if (checksum_fold(checksum_add(0, icmp, ip.payload_length)) != 0) {
		*why = "icmp-checksum";
		return ECHO_BAD;
	}
	for (uint32_t i = 0; i < size; i++) {
		if (icmp[ICMP_HEADER_BYTES + i] != net_pattern_byte(seq, i)) {
			*why = "payload";
			return ECHO_BAD;
		}
	}
	return ECHO_OK;
}

/* One echo request (resent up to PING_ATTEMPTS times) and its reply. */
static bool ping_once(struct session *s, uint32_t seq, uint32_t size) {
	for (uint32_t attempt = 0; attempt < PING_ATTEMPTS; attempt++) {
		if (!send_echo_request(s, seq, size)) {
			return false;
		}
		uint32_t checks = PING_WAIT_CHECKS;
		struct net_frame frame;
		enum wait_result result;
		while ((result = wait_frame(s, &frame, &checks)) == WAIT_FRAME) {
			const char *why = "";
			enum echo_check check = check_echo_reply(s, &frame, seq, size, &why);
			net_release(&s->net, &frame);
			if (check == ECHO_OK) {
				console_write("net: ping seq=");
				console_write_decimal(seq);
				console_write_line(" ok");
				return true;
			}
			if (check == ECHO_BAD) {
				console_write("net: FAIL ping seq=");
				console_write_decimal(seq);
				console_write(" bad reply: ");
				console_write_line(why);
				return false;
			}
		}
		if (result == WAIT_DEVICE_FAILED) {
			return false;
		}
	}
	console_write("net: FAIL ping seq=");
	console_write_decimal(seq);
	console_write_line(" timeout");
	return false;
}

void mode_net_ping(const struct boot_info *info) {
	struct session s;
	open_or_power_off(&s, info);
	uint32_t count = option(info, "net.count=", DEFAULT_PING_COUNT, 1, 0xffff);
	uint32_t size = option(info, "net.size=", DEFAULT_PING_SIZE, 0, MAX_PING_SIZE);
	if (!arp_resolve(&s)) {
		finish(&s);
	}
	for (uint32_t seq = 1; seq <= count; seq++) {
		if (!ping_once(&s, seq, size)) {
			finish(&s);
		}
	}
	if (s.net.mergeable) {
		/* Shows that replies really spanned buffers (net.rxbuf= smaller than the frame). */
		console_write("net: mrg max-buffers=");
		console_write_decimal(s.net.rx_max_buffers);
		console_write("\n");
	}
	console_write("net: ping ok count=");
	console_write_decimal(count);
	console_write("\n");
	finish(&s);
}

/* --- net-responder ------------------------------------------------------------ */

/* Answers an ICMP echo request for our address; true when the frame was one and the reply went out. */
static bool answer_echo_request(struct session *s, const struct net_frame *frame) {
	struct ipv4_packet ip;
	if (ipv4_parse_frame(frame->data, frame->length, &ip) != IPV4_OK || ip.dst != s->ip ||
	    ip.protocol != IPV4_PROTO_ICMP || ip.payload_length < ICMP_HEADER_BYTES) {
		return false;
	}
	const uint8_t *request = ip.payload;
	if (request[0] != ICMP_ECHO_REQUEST || request[1] != 0 ||
	    checksum_fold(checksum_add(0, request, ip.payload_length)) != 0) {
		return false;
	}
	uint8_t *out = net_tx_frame(&s->net);
	if (out == NULL) {
		s->device_failed = true;
		return false;
	}
	/* Back to where it came from: the frame's source address, the packet's source. */
	uint32_t offset = ipv4_write_headers(out, frame->data + ETH_ADDR_BYTES, s->net.mac, s->ip, ip.src,
	                                     IPV4_PROTO_ICMP, s->ip_id++, ip.payload_length);
	uint8_t *reply = out + offset;
	/* The payload is at most 1480 bytes (the frame was at most NET_MAX_FRAME). */
	for (uint32_t i = 0; i < ip.payload_length; i++) {
		reply[i] = request[i];
	}
	reply[0] = ICMP_ECHO_REPLY;
	put_be16(reply + 2, 0);
	put_be16(reply + 2, checksum_fold(checksum_add(0, reply, ip.payload_length)));
	return net_tx_send(&s->net, offset + ip.payload_length);
}

void mode_net_responder(const struct boot_info *info) {
	struct session s;
	open_or_power_off(&s, info);
	uint32_t replies = option(info, "net.replies=", DEFAULT_REPLIES, 1, 0xffffffffu);
	/* The host side waits for this line before it starts pinging. */
	console_write("net: responder listening ip=");
	write_ipv4(s.ip);
	console_write("\n");
	uint32_t answered = 0;
	uint32_t checks = RESPONDER_WAIT_CHECKS;
	while (answered < replies) {
		struct net_frame frame;
		enum wait_result result = wait_frame(&s, &frame, &checks);
		if (result == WAIT_TIMEOUT) {
			console_write_line("net: FAIL responder timed out");
			finish(&s);
		}
		if (result == WAIT_DEVICE_FAILED) {
			finish(&s);
		}
		if (answer_echo_request(&s, &frame)) {
			answered++;
		}
		net_release(&s.net, &frame);
	}
	if (!net_tx_flush(&s.net)) {
		power_off();
	}
	console_write("net: responder answered ");
	console_write_decimal(answered);
	console_write("\n");
	power_off();
}

/* --- net-udp-tx and net-udp-rx ------------------------------------------------ */

static void fill_pattern_bytes(void) {
	for (uint32_t i = 0; i < sizeof pattern_bytes; i++) {
		pattern_bytes[i] = (uint8_t)i;
	}
}

/* Ethernet, IPv4 and UDP headers from port to the same port on net.peer; returns the payload. */
static uint8_t *udp_headers(struct session *s, uint8_t *frame, uint32_t port, uint32_t payload_length) {
	uint32_t udp_length = UDP_HEADER_BYTES + payload_length;
	uint8_t *udp = frame + ipv4_write_headers(frame, s->peer_mac, s->net.mac, s->ip, s->peer, IPV4_PROTO_UDP,
	                                          s->ip_id++, udp_length);
	put_be16(udp + 0, port);
	put_be16(udp + 2, port);
	put_be16(udp + 4, udp_length);
	put_be16(udp + 6, 0);
	return udp + UDP_HEADER_BYTES;
}

/* RFC 768: a computed 0 is sent as 0xffff, since 0 means "no checksum". */
static void udp_set_checksum(uint8_t *payload, uint32_t sum) {
	uint16_t checksum = checksum_fold(sum);
	put_be16(payload - UDP_HEADER_BYTES + 6, checksum == 0 ? 0xffff : checksum);
}

static bool send_udp_bytes(struct session *s, uint32_t port, const char *bytes, uint32_t length) {
	uint8_t *frame = net_tx_frame(&s->net);
	if (frame == NULL) {
		s->device_failed = true;
		return false;
	}
	uint8_t *payload = udp_headers(s, frame, port, length);
	for (uint32_t i = 0; i < length; i++) {
		payload[i] = (uint8_t)bytes[i];
	}
	uint32_t udp_length = UDP_HEADER_BYTES + length;
	udp_set_checksum(payload, checksum_add(udp_pseudo_header_sum(s->ip, s->peer, udp_length),
	                                       payload - UDP_HEADER_BYTES, udp_length));
	return net_tx_send(&s->net, (uint32_t)(payload - frame) + length);
}

/*
 * Datagram `seq` of `size` bytes: the headers and the sequence number are
 * written, the rest is a second descriptor pointing into pattern_bytes at
 * (seq + 4) & 0xff, so a frame costs the same whatever its size, and the
 * checksum of that part comes from net_pattern_sum.
 */
static bool send_udp_pattern(struct session *s, uint32_t port, uint32_t seq, uint32_t size) {
	uint8_t *frame = net_tx_frame(&s->net);
	if (frame == NULL) {
		s->device_failed = true;
		return false;
	}
	uint8_t *payload = udp_headers(s, frame, port, size);
	put_le32(payload, seq);
	uint32_t udp_length = UDP_HEADER_BYTES + size;
	uint32_t sum = udp_pseudo_header_sum(s->ip, s->peer, udp_length);
	sum = checksum_add(sum, payload - UDP_HEADER_BYTES, UDP_HEADER_BYTES + NET_PATTERN_SEQ_BYTES);
	udp_set_checksum(payload, sum + net_pattern_sum(seq, size));
	uint64_t tail = dma_address(pattern_bytes + ((seq + NET_PATTERN_SEQ_BYTES) & 0xff));
	return net_tx_send_with_tail(&s->net, (uint32_t)(payload - frame) + NET_PATTERN_SEQ_BYTES, tail,
	                             size - NET_PATTERN_SEQ_BYTES);
}

void mode_net_udp_tx(const struct boot_info *info) {
	struct session s;
	open_or_power_off(&s, info);
	uint32_t count = option(info, "net.count=", DEFAULT_UDP_COUNT, 0, 0xffffffffu);
	uint32_t size = option(info, "net.size=", DEFAULT_UDP_SIZE, NET_PATTERN_SEQ_BYTES, UDP_MAX_PAYLOAD);
	uint32_t port = option(info, "net.port=", DEFAULT_UDP_PORT, 1, 0xffff);
	if (!arp_resolve(&s)) {
		finish(&s);
	}
	fill_pattern_bytes();
	for (uint32_t seq = 0; seq < count; seq++) {
		serve_pending(&s);
		if (!send_udp_pattern(&s, port, seq, size)) {
			finish(&s);
		}
	}
	if (!net_tx_flush(&s.net)) {
		power_off();
	}
	/* Nothing here waits on the receive queue, where wait_frame would have noticed. */
	if (s.net.misbehaved) {
		console_write_line("net: FAIL device broke the ring rules");
		power_off();
	}
	console_write("net: udp-tx sent ");
	console_write_decimal(count);
	console_write("\n");
	power_off();
}

enum udp_check {
	UDP_OTHER, /* not for us: another address, protocol or port */
	UDP_GOOD,
	UDP_DUPLICATE,
	UDP_BAD,
};

static enum udp_check check_udp_datagram(const struct session *s, const struct net_frame *frame, uint32_t port,
                                         uint32_t count, uint32_t size) {
	struct ipv4_packet ip;
	enum ipv4_parse_result parsed = ipv4_parse_frame(frame->data, frame->length, &ip);
	if (parsed != IPV4_OK && parsed != IPV4_BAD_CHECKSUM) {
		return UDP_OTHER;
	}
	if (ip.dst != s->ip || ip.protocol != IPV4_PROTO_UDP || ip.payload_length < UDP_HEADER_BYTES) {
		return UDP_OTHER;
	}
	const uint8_t *udp = ip.payload;
	if (get_be16(udp + 2) != port) {
		return UDP_OTHER;
	}
	const uint8_t *payload = udp + UDP_HEADER_BYTES;
	uint32_t udp_length = get_be16(udp + 4);
	if (parsed == IPV4_BAD_CHECKSUM || udp_length != ip.payload_length || udp_length != UDP_HEADER_BYTES + size) {
		return UDP_BAD;
	}
	uint32_t seq = get_le32(payload);
	if (seq >= count) {
		return UDP_BAD;
	}
	for (uint32_t i = NET_PATTERN_SEQ_BYTES; i < size; i++) {
		if (payload[i] != net_pattern_byte(seq, i)) {
			return UDP_BAD;
		}
	}
	/* The payload is the pattern, so its share of the checksum is known without summing it again. */
	if (get_be16(udp + 6) != 0) {
		uint32_t sum = udp_pseudo_header_sum(ip.src, ip.dst, udp_length);
		sum = checksum_add(sum, udp, UDP_HEADER_BYTES + NET_PATTERN_SEQ_BYTES);
		if (checksum_fold(sum + net_pattern_sum(seq, size)) != 0) {
			return UDP_BAD;
		}
	}
	uint32_t bit = 1u << (seq & 31);
	if (udp_seen[seq >> 5] & bit) {
		return UDP_DUPLICATE;
	}
	udp_seen[seq >> 5] |= bit;
	return UDP_GOOD;
}

void mode_net_udp_rx(const struct boot_info *info) {
	struct session s;
	open_or_power_off(&s, info);
	uint32_t count = option(info, "net.count=", DEFAULT_UDP_COUNT, 0, MAX_UDP_RX_COUNT);
	uint32_t size = option(info, "net.size=", DEFAULT_UDP_SIZE, NET_PATTERN_SEQ_BYTES, UDP_MAX_PAYLOAD);
	uint32_t port = option(info, "net.port=", DEFAULT_UDP_PORT, 1, 0xffff);
	if (!arp_resolve(&s)) {
		finish(&s);
	}
	/* Tells the host side that the guest listens; sent again while nothing has arrived. */
	if (!send_udp_bytes(&s, port, ready_message, sizeof ready_message - 1)) {
		finish(&s);
	}
	uint32_t ready_sent = 1;
	uint32_t good = 0;
	uint32_t bad = 0;
	uint32_t checks = UDP_RX_IDLE_CHECKS;
	while (good < count) {
		struct net_frame frame;
		enum wait_result result = wait_frame(&s, &frame, &checks);
		if (result == WAIT_DEVICE_FAILED) {
			finish(&s);
		}
		if (result == WAIT_TIMEOUT) {
			if (good != 0 || ready_sent >= UDP_RX_READY_ATTEMPTS) {
				break;
			}
			if (!send_udp_bytes(&s, port, ready_message, sizeof ready_message - 1)) {
				finish(&s);
			}
			ready_sent++;
			checks = UDP_RX_IDLE_CHECKS;
			continue;
		}
		enum udp_check check = check_udp_datagram(&s, &frame, port, count, size);
		net_release(&s.net, &frame);
		if (check == UDP_GOOD) {
			good++;
			checks = UDP_RX_IDLE_CHECKS;
		} else if (check == UDP_BAD) {
			bad++;
		}
	}
	console_write("net: udp-rx got ");
	console_write_decimal(good);
	console_write(" bad ");
	console_write_decimal(bad);
	console_write("\n");
	finish(&s);
}

/* --- net-hostile-* ------------------------------------------------------------ */

/*
 * Each case brings the device up properly, breaks one rule, waits (bounded) for
 * NEEDS_RESET or for the device to use the offending chain anyway, and prints
 *
 *     net: hostile NAME status=0x.. tx-used=U rx-used=R
 *     net: hostile NAME needs-reset=1            (or 0)
 *
 * then resets the device, sets it up again and does one ARP exchange:
 * "net: hostile NAME recovered=1" (or 0).
 */

static void hostile_line(const char *name, const char *what) {
	console_write("net: hostile ");
	console_write(name);
	console_write(" ");
	console_write(what);
}

/* Publishes a chain written by hand at descriptor `head` and notifies. */
static void publish_by_hand(struct virtqueue *vq, uint16_t head) {
	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
	vq_compiler_barrier();
	vq->avail_idx++;
	vq->avail->idx = vq->avail_idx;
	vq_kick(vq);
}

/* An ARP request for net.peer in the reserved tx slot; returns header + frame length. */
static uint32_t arp_request_in_slot(struct session *s, uint8_t *frame) {
	struct arp_packet arp = {.operation = ARP_REQUEST, .sender_ip = s->ip, .target_ip = s->peer};
	mac_copy(arp.sender_mac, s->net.mac);
	for (uint32_t i = 0; i < ETH_ADDR_BYTES; i++) {
		arp.target_mac[i] = 0;
	}
	return NET_HDR_BYTES + arp_write_frame(frame, s->net.mac, &arp);
}

static void add_or_complain(struct virtqueue *vq, const struct vq_buffer *buffers, uint32_t count) {
	if (vq_add(vq, buffers, count) < 0) {
		console_write_line("net: FAIL hostile: no free descriptors");
		power_off();
	}
	vq_kick(vq);
}

/* The whole frame in one descriptor the device may write: transmit buffers are device-readable. */
static void provoke_tx_writable(struct session *s, uint8_t *frame) {
	struct vq_buffer buffer = {dma_address(frame - NET_HDR_BYTES), arp_request_in_slot(s, frame), true};
	add_or_complain(&s->net.tx, &buffer, 1);
}

/* Half a header and nothing else. */
static void provoke_tx_short(struct session *s, uint8_t *frame) {
	struct vq_buffer buffer = {dma_address(frame - NET_HDR_BYTES), 6, false};
	add_or_complain(&s->net.tx, &buffer, 1);
}

/* Header + 65536 + 100 bytes: one 16 KiB block described four times, then 100 bytes more. */
static void provoke_tx_long(struct session *s, uint8_t *frame) {
	/* 4096 word stores: a few milliseconds in brig's emulator, and what the device reads is defined. */
	dma_zero(long_block, HOSTILE_LONG_BLOCK);
	struct vq_buffer buffers[6];
	buffers[0] = (struct vq_buffer){dma_address(frame - NET_HDR_BYTES), NET_HDR_BYTES, false};
	for (uint32_t i = 1; i <= 4; i++) {
		buffers[i] = (struct vq_buffer){dma_address(long_block), HOSTILE_LONG_BLOCK, false};
	}
	buffers[5] = (struct vq_buffer){dma_address(long_block), HOSTILE_LONG_EXTRA, false};
	add_or_complain(&s->net.tx, buffers, 6);
}

/* A TCPv4 segmentation request although HOST_TSO4 was never negotiated, on an ARP frame. */
static void provoke_tx_gso(struct session *s, uint8_t *frame) {
	uint8_t *header = frame - NET_HDR_BYTES;
	header[NET_HDR_GSO_TYPE] = VIRTIO_NET_HDR_GSO_TCPV4;
	header[NET_HDR_GSO_SIZE] = (uint8_t)HOSTILE_GSO_SIZE;
	header[NET_HDR_GSO_SIZE + 1] = (uint8_t)(HOSTILE_GSO_SIZE >> 8);
	net_tx_send(&s->net, arp_request_in_slot(s, frame) - NET_HDR_BYTES);
}

/* Descriptor 0 -> 1 -> 0, both with NEXT. */
static void provoke_tx_loop(struct session *s, uint8_t *frame) {
	volatile struct vring_desc *desc = s->net.tx.desc;
	uint32_t length = arp_request_in_slot(s, frame);
	desc[0].addr = dma_address(frame - NET_HDR_BYTES);
	desc[0].len = length;
	desc[0].flags = VRING_DESC_F_NEXT;
	desc[0].next = 1;
	desc[1].addr = dma_address(frame - NET_HDR_BYTES);
	desc[1].len = length;
	desc[1].flags = VRING_DESC_F_NEXT;
	desc[1].next = 0;
	publish_by_hand(&s->net.tx, 0);
}

/* A proper header, then 60 frame bytes at an address that is not RAM. */
static void provoke_tx_oob(struct session *s, uint8_t *frame) {
	struct vq_buffer buffers[2] = {
		{dma_address(frame - NET_HDR_BYTES), NET_HDR_BYTES, false},
		{ADDRESS_OUTSIDE_RAM, ETH_MIN_FRAME, false},
	};
	add_or_complain(&s->net.tx, buffers, 2);
}

/* Reset, set up again, one ARP exchange. */
static void hostile_recover(struct session *s, const char *name) {
	virtio_reset(&s->net.dev);
	s->device_failed = false;
	bool ok = net_open(&s->net, &s->options) && arp_resolve(s);
	hostile_line(name, ok ? "recovered=1\n" : "recovered=0\n");
}

/*
 * Waits for NEEDS_RESET, or for a used entry in the queue that was provoked
 * (the device took the chain without complaint), or the end of the wait.
 */
static uint32_t hostile_wait(struct session *s, volatile struct vring_used *watched) {
	for (uint32_t check = 0; check < HOSTILE_WAIT_CHECKS; check++) {
		if ((virtio_status(&s->net.dev) & VIRTIO_STATUS_NEEDS_RESET) || watched->idx != 0) {
			break;
		}
		busy_wait(WAIT_SPINS);
	}
	return virtio_status(&s->net.dev);
}

static void hostile_report(struct session *s, const char *name, uint32_t status) {
	hostile_line(name, "status=");
	console_write_hex(status);
	console_write(" tx-used=");
	console_write_decimal(s->net.tx.used->idx);
	console_write(" rx-used=");
	console_write_decimal(s->net.rx.used->idx);
	console_write("\n");
	hostile_line(name, (status & VIRTIO_STATUS_NEEDS_RESET) ? "needs-reset=1\n" : "needs-reset=0\n");
}

static __attribute__((noreturn)) void run_tx_case(const struct boot_info *info, const char *name,
                                                  void (*provoke)(struct session *s, uint8_t *frame)) {
	struct session s;
	open_or_power_off(&s, info);
	/* A fresh queue: the chain gets head 0 and slot 0. */
	uint8_t *frame = net_tx_frame(&s.net);
	if (frame == NULL) {
		power_off();
	}
	provoke(&s, frame);
	hostile_report(&s, name, hostile_wait(&s, s.net.tx.used));
	hostile_recover(&s, name);
	power_off();
}

/*
 * The receive queue holds one chain, a buffer the device may only read; then an
 * ARP request makes the host send a frame for it to land in.
 */
void mode_net_hostile_rx_readonly(const struct boot_info *info) {
	static const char name[] = "rx-readonly";
	struct session s;
	session_init(&s, info);
	if (!net_setup(&s.net, &s.options)) {
		power_off();
	}
	net_start(&s.net);
	struct vq_buffer buffer = {net_rx_buffer_address(0), NET_RX_BUFFER_BYTES, false};
	add_or_complain(&s.net.rx, &buffer, 1);
	static const uint8_t unknown_mac[ETH_ADDR_BYTES] = {0};
	send_arp(&s, ARP_REQUEST, unknown_mac, s.peer);
	hostile_report(&s, name, hostile_wait(&s, s.net.rx.used));
	hostile_recover(&s, name);
	power_off();
}

void mode_net_hostile_tx_writable(const struct boot_info *info) {
	run_tx_case(info, "tx-writable", provoke_tx_writable);
}

void mode_net_hostile_tx_short(const struct boot_info *info) {
	run_tx_case(info, "tx-short", provoke_tx_short);
}

void mode_net_hostile_tx_long(const struct boot_info *info) {
	run_tx_case(info, "tx-long", provoke_tx_long);
}

void mode_net_hostile_tx_gso(const struct boot_info *info) {
	run_tx_case(info, "tx-gso", provoke_tx_gso);
}

void mode_net_hostile_tx_loop(const struct boot_info *info) {
	run_tx_case(info, "tx-loop", provoke_tx_loop);
}

void mode_net_hostile_tx_oob(const struct boot_info *info) {
	run_tx_case(info, "tx-oob", provoke_tx_oob);
}
