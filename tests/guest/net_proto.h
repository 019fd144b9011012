/*
 * Just enough Ethernet, ARP, IPv4, ICMP and UDP for the virtio-net modes: build
 * and parse frames in byte arrays (network byte order, no packed structs) and the
 * internet checksum (RFC 1071). IPv4 addresses are uint32_t in host order:
 * 10.77.0.2 is 0x0a4d0002.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define ETH_ADDR_BYTES 6u
#define ETH_HEADER_BYTES 14u
/* The shortest frame on the wire without its FCS; shorter ones are padded with zeroes. */
#define ETH_MIN_FRAME 60u
#define ETH_TYPE_IPV4 0x0800u
#define ETH_TYPE_ARP 0x0806u

#define ARP_BYTES 28u
#define ARP_REQUEST 1u
#define ARP_REPLY 2u

#define IPV4_HEADER_BYTES 20u
#define IPV4_PROTO_ICMP 1u
#define IPV4_PROTO_UDP 17u
/* 1500-byte MTU: the largest IPv4 packet the guest sends or accepts (no fragments). */
#define IPV4_MAX_PACKET 1500u

#define ICMP_HEADER_BYTES 8u
#define ICMP_ECHO_REPLY 0u
#define ICMP_ECHO_REQUEST 8u

#define UDP_HEADER_BYTES 8u
#define UDP_MAX_PAYLOAD (IPV4_MAX_PACKET - IPV4_HEADER_BYTES - UDP_HEADER_BYTES)

extern const uint8_t eth_broadcast[ETH_ADDR_BYTES];

static inline void put_be16(uint8_t *p, uint32_t value) {
	p[0] = (uint8_t)(value >> 8);
	p[1] = (uint8_t)value;
}

static inline void put_be32(uint8_t *p, uint32_t value) {
	p[0] = (uint8_t)(value >> 24);
	p[1] = (uint8_t)(value >> 16);
	p[2] = (uint8_t)(value >> 8);
	p[3] = (uint8_t)value;
}

static inline uint32_t get_be16(const uint8_t *p) {
	return ((uint32_t)p[0] << 8) | p[1];
}

static inline uint32_t get_be32(const uint8_t *p) {
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void put_le32(uint8_t *p, uint32_t value) {
	p[0] = (uint8_t)value;
	p[1] = (uint8_t)(value >> 8);
	p[2] = (uint8_t)(value >> 16);
	p[3] = (uint8_t)(value >> 24);
}

static inline uint32_t get_le32(const uint8_t *p) {
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

void mac_copy(uint8_t *to, const uint8_t *from);
bool mac_equal(const uint8_t *a, const uint8_t *b);

/* "52:54:00:12:34:56" (lowercase) and "10.77.0.2" on the console. */
void write_mac(const uint8_t *mac);
void write_ipv4(uint32_t address);

/*
 * The internet checksum. checksum_add sums `length` bytes as big-endian 16-bit
 * words (an odd last byte is the high half of a word) into a 32-bit accumulator;
 * `data` must start at an even offset of what is being summed. checksum_fold
 * folds the carries and complements: the value to store, or 0 when a received
 * header that includes its checksum field is correct.
 */
uint32_t checksum_add(uint32_t sum, const uint8_t *data, uint32_t length);
uint16_t checksum_fold(uint32_t sum);

/* Destination, source, EtherType; returns ETH_HEADER_BYTES. */
uint32_t eth_write_header(uint8_t *frame, const uint8_t *dst, const uint8_t *src, uint32_t type);

struct arp_packet {
	uint32_t operation;
	uint8_t sender_mac[ETH_ADDR_BYTES];
	uint32_t sender_ip;
	uint8_t target_mac[ETH_ADDR_BYTES];
	uint32_t target_ip;
};

/*
 * A whole ARP frame (Ethernet/IPv4, 6/4 address lengths), padded to
 * ETH_MIN_FRAME; the Ethernet destination is the broadcast address for a
 * request and the target for a reply. Returns the frame length.
 */
uint32_t arp_write_frame(uint8_t *frame, const uint8_t *own_mac, const struct arp_packet *arp);
/* False unless the frame is an Ethernet/IPv4 ARP packet. */
bool arp_parse_frame(const uint8_t *frame, uint32_t length, struct arp_packet *arp);

struct ipv4_packet {
	uint32_t src;
	uint32_t dst;
	uint32_t protocol;
	const uint8_t *header;
	const uint8_t *payload; /* after the header and its options */
	uint32_t payload_length;
};

enum ipv4_parse_result {
	IPV4_OK,
	IPV4_NOT_IPV4,      /* another EtherType, or not version 4 */
	IPV4_MALFORMED,     /* lengths that do not fit the frame, or a fragment */
	IPV4_BAD_CHECKSUM,
};

/*
 * An IPv4 packet in an Ethernet frame; the header checksum is checked. `ip` is
 * filled in for IPV4_OK and IPV4_BAD_CHECKSUM.
 */
enum ipv4_parse_result ipv4_parse_frame(const uint8_t *frame, uint32_t length, struct ipv4_packet *ip);

/*
 * The Ethernet and IPv4 headers of a frame carrying `payload_length` bytes of
 * `protocol` (20-byte header, TTL 64, DF set, header checksum filled in). Returns
 * the offset of the payload, ETH_HEADER_BYTES + IPV4_HEADER_BYTES.
 */
uint32_t ipv4_write_headers(uint8_t *frame, const uint8_t *dst_mac, const uint8_t *src_mac, uint32_t src,
                            uint32_t dst, uint32_t protocol, uint32_t id, uint32_t payload_length);

/* The sum of the UDP pseudo header (RFC 768) for checksum_add/checksum_fold. */
uint32_t udp_pseudo_header_sum(uint32_t src, uint32_t dst, uint32_t udp_length);

/*
 * The pattern the UDP modes carry: a payload of `size` bytes (at least 4) holds
 * the sequence number as a 32-bit little-endian word in bytes 0..3 and then, at
 * payload offset i (i >= 4), the byte (seq + i) & 0xff.
 */
#define NET_PATTERN_SEQ_BYTES 4u
static inline uint8_t net_pattern_byte(uint32_t seq, uint32_t offset) {
	return (uint8_t)(seq + offset);
}

/*
 * checksum_add over the pattern bytes of such a payload (offsets 4..size-1, the
 * payload starting at an even offset), in closed form: a few dozen instructions
 * instead of a loop over every byte, which matters in brig's ring-0 emulator.
 */
uint32_t net_pattern_sum(uint32_t seq, uint32_t size);
