/* The kernel command line: mode=NAME and the NAME=VALUE options the modes read. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* A slice of the command line; not NUL-terminated. */
struct text_span {
	const char *start;
	uint32_t length;
};

/*
 * The command line at guest-physical `address` as a NUL-terminated string; "" when
 * the loader gave none (address 0, unreachable, or no NUL within the limit).
 */
const char *cmdline_from_physical(uint64_t address);

/* The value of the last "mode=" word, or "info" when there is none. */
struct text_span cmdline_mode(const char *cmdline);

bool text_span_equals(struct text_span span, const char *text);

/*
 * The value of the last "NAME=" word (name given with its '='), as a number:
 * decimal, or hex with a 0x prefix. `fallback` when absent or not a number.
 */
uint64_t cmdline_number(const char *cmdline, const char *name_with_equals, uint64_t fallback);

/*
 * The value of the last "NAME=" word as a dotted-quad IPv4 address ("10.77.0.2"),
 * in host order: 10.77.0.2 is 0x0a4d0002. `fallback` when absent or malformed.
 */
uint32_t cmdline_ipv4(const char *cmdline, const char *name_with_equals, uint32_t fallback);
