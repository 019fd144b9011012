#include "net_proto.h"

#include "console.h"

const uint8_t eth_broadcast[ETH_ADDR_BYTES] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

#define ARP_HARDWARE_ETHERNET 1u
#define IPV4_FLAG_DONT_FRAGMENT 0x4000u
#define IPV4_FRAGMENT_MASK 0x3fffu /* more-fragments flag and offset */
#define IPV4_TTL 64u

void mac_copy(uint8_t *to, const uint8_t *from) {
	for (uint32_t i = 0; i < ETH_ADDR_BYTES; i++) {
		to[i] = from[i];
	}
}

bool mac_equal(const uint8_t *a, const uint8_t *b) {
	for (uint32_t i = 0; i < ETH_ADDR_BYTES; i++) {
		if (a[i] != b[i]) {
			return false;
		}
	}
	return true;
}

void write_mac(const uint8_t *mac) {
	static const char digits[] = "0123456789abcdef";
	for (uint32_t i = 0; i < ETH_ADDR_BYTES; i++) {
		char text[3] = {':', digits[mac[i] >> 4], digits[mac[i] & 0xf]};
		if (i == 0) {
			console_write_bytes(text + 1, 2);
		} else {
			console_write_bytes(text, 3);
		}
	}
}

void write_ipv4(uint32_t address) {
	for (int shift = 24; shift >= 0; shift -= 8) {
		console_write_decimal((address >> shift) & 0xff);
		if (shift > 0) {
			console_write(".");
		}
	}
}

uint32_t checksum_add(uint32_t sum, const uint8_t *data, uint32_t length) {
	uint32_t i = 0;
	for (; i + 1 < length; i += 2) {
		sum += ((uint32_t)data[i] << 8) | data[i + 1];
	}
	if (i < length) {
		sum += (uint32_t)data[i] << 8;
	}
	return sum;
}

uint16_t checksum_fold(uint32_t sum) {
	while (sum >> 16) {
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return (uint16_t)~sum;
}

uint32_t eth_write_header(uint8_t *frame, const uint8_t *dst, const uint8_t *src, uint32_t type) {
	mac_copy(frame, dst);
	mac_copy(frame + ETH_ADDR_BYTES, src);
	put_be16(frame + 2 * ETH_ADDR_BYTES, type);
	return ETH_HEADER_BYTES;
}

uint32_t arp_write_frame(uint8_t *frame, const uint8_t *own_mac, const struct arp_packet *arp) {
	const uint8_t *dst = arp->operation == ARP_REQUEST ? eth_broadcast : arp->target_mac;
	uint8_t *p = frame + eth_write_header(frame, dst, own_mac, ETH_TYPE_ARP);
	put_be16(p + 0, ARP_HARDWARE_ETHERNET);
	put_be16(p + 2, ETH_TYPE_IPV4);
	p[4] = ETH_ADDR_BYTES;
	p[5] = 4;
	put_be16(p + 6, arp->operation);
	mac_copy(p + 8, arp->sender_mac);
	put_be32(p + 14, arp->sender_ip);
	mac_copy(p + 18, arp->target_mac);
	put_be32(p + 24, arp->target_ip);
	for (uint32_t i = ETH_HEADER_BYTES + ARP_BYTES; i < ETH_MIN_FRAME; i++) {
		frame[i] = 0;
	}
	return ETH_MIN_FRAME;
}

bool arp_parse_frame(const uint8_t *frame, uint32_t length, struct arp_packet *arp) {
	if (length < ETH_HEADER_BYTES + ARP_BYTES || get_be16(frame + 12) != ETH_TYPE_ARP) {
		return false;
	}
	const uint8_t *p = frame + ETH_HEADER_BYTES;
	if (get_be16(p) != ARP_HARDWARE_ETHERNET || get_be16(p + 2) != ETH_TYPE_IPV4 || p[4] != ETH_ADDR_BYTES ||
	    p[5] != 4) {
		return false;
	}
	arp->operation = get_be16(p + 6);
	mac_copy(arp->sender_mac, p + 8);
	arp->sender_ip = get_be32(p + 14);
	mac_copy(arp->target_mac, p + 18);
	arp->target_ip = get_be32(p + 24);
	return true;
}

enum ipv4_parse_result ipv4_parse_frame(const uint8_t *frame, uint32_t length, struct ipv4_packet *ip) {
	if (length < ETH_HEADER_BYTES + IPV4_HEADER_BYTES || get_be16(frame + 12) != ETH_TYPE_IPV4) {
		return IPV4_NOT_IPV4;
	}
	const uint8_t *header = frame + ETH_HEADER_BYTES;
	if ((header[0] >> 4) != 4) {
		return IPV4_NOT_IPV4;
	}
	uint32_t header_length = (header[0] & 0xfu) * 4u;
	uint32_t total_length = get_be16(header + 2);
	/* Frames may carry padding after the packet (a short one is padded to 60 bytes). */
	if (header_length < IPV4_HEADER_BYTES || total_length < header_length ||
	    total_length > length - ETH_HEADER_BYTES) {
		return IPV4_MALFORMED;
	}
	if (get_be16(header + 6) & IPV4_FRAGMENT_MASK) {
		return IPV4_MALFORMED;
	}
	ip->protocol = header[9];
	ip->src = get_be32(header + 12);
	ip->dst = get_be32(header + 16);
	ip->header = header;
	ip->payload = header + header_length;
	ip->payload_length = total_length - header_length;
	/* Filled in anyway, so a caller can tell whose packet was damaged. */
	if (checksum_fold(checksum_add(0, header, header_length)) != 0) {
		return IPV4_BAD_CHECKSUM;
	}
	return IPV4_OK;
}

uint32_t ipv4_write_headers(uint8_t *frame, const uint8_t *dst_mac, const uint8_t *src_mac, uint32_t src,
                            uint32_t dst, uint32_t protocol, uint32_t id, uint32_t payload_length) {
	uint8_t *header = frame + eth_write_header(frame, dst_mac, src_mac, ETH_TYPE_IPV4);
	header[0] = 0x45; /* version 4, five 32-bit words */
	header[1] = 0;
	put_be16(header + 2, IPV4_HEADER_BYTES + payload_length);
	put_be16(header + 4, id);
	put_be16(header + 6, IPV4_FLAG_DONT_FRAGMENT);
	header[8] = IPV4_TTL;
	header[9] = (uint8_t)protocol;
	put_be16(header + 10, 0);
	put_be32(header + 12, src);
	put_be32(header + 16, dst);
	put_be16(header + 10, checksum_fold(checksum_add(0, header, IPV4_HEADER_BYTES)));
	return ETH_HEADER_BYTES + IPV4_HEADER_BYTES;
}

uint32_t udp_pseudo_header_sum(uint32_t src, uint32_t dst, uint32_t udp_length) {
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + IPV4_PROTO_UDP + udp_length;
}

/*
 * The sum of ((first + 2k) & 0xff) for k = 0..count-1: every other pattern byte.
 * Adding 2 keeps the parity, so the values run through the 128 bytes of first's
 * parity and repeat; within one run they climb by 2 until they pass 255 and
 * wrap around by -256.
 */
static uint32_t every_other_byte_sum(uint32_t first, uint32_t count) {
	/* 0 + 2 + ... + 254, and 1 + 3 + ... + 255. */
	uint32_t period_sum = (first & 1) ? 16384u : 16256u;
	uint32_t sum = (count >> 7) * period_sum;
	uint32_t rest = count & 127u;
	/* The sum of first + 2k, k < rest, then -256 for each term past 255. */
	sum += rest * first + rest * (rest - 1);
	uint32_t before_wrap = (255u - first) / 2u + 1u;
	if (rest > before_wrap) {
		sum -= 256u * (rest - before_wrap);
	}
	return sum;
}

uint32_t net_pattern_sum(uint32_t seq, uint32_t size) {
	if (size <= NET_PATTERN_SEQ_BYTES) {
		return 0;
	}
	/*
	 * Offset 4 starts a word: bytes at even offsets are high halves (x 256),
	 * bytes at odd offsets low halves; an odd last byte is a high half too.
	 */
	uint32_t bytes = size - NET_PATTERN_SEQ_BYTES;
	uint32_t high_halves = (bytes + 1) / 2;
	uint32_t low_halves = bytes / 2;
	uint32_t high = every_other_byte_sum((seq + NET_PATTERN_SEQ_BYTES) & 0xff, high_halves);
	uint32_t low = every_other_byte_sum((seq + NET_PATTERN_SEQ_BYTES + 1) & 0xff, low_halves);
	return (high << 8) + low;
}
