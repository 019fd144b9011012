/*
 * Turning 64-bit guest-physical addresses from boot structures into pointers.
 * Only the low 4 GiB are reachable, in both builds: the PVH build runs with paging
 * off, the bzImage build on the loader's identity map of 0..4 GiB (boot.rst's
 * 64-bit protocol maps at least the kernel, zero page and command line; brig maps
 * all of the low 4 GiB). Anything above is reported as unreachable (NULL) instead
 * of being silently truncated to a wrong address.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PHYSICAL_LIMIT 0x100000000ull

static inline const void *physical_to_pointer(uint64_t address, uint64_t length) {
	if (address == 0 || address >= PHYSICAL_LIMIT || length > PHYSICAL_LIMIT - address) {
		return NULL;
	}
	return (const void *)(uintptr_t)address;
}
