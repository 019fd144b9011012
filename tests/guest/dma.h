/*
 * Memory the devices read and write: rings and request buffers. It goes in the
 * .dma output section (linker.ld, bzimage.ld), which is NOLOAD like the stack, so
 * it is neither in the image nor cleared by the entry code: clearing hundreds of
 * KiB with plain stores would cost every mode real time under brig's ring-0
 * emulator. Whoever uses a piece initialises it. Addresses are physical (paging
 * off, or the identity map), so a pointer is also what the device is given.
 */
#pragma once

#include <stdint.h>

#define DMA_PAGE_SIZE 4096u
#define DMA_AREA __attribute__((section(".dma"), aligned(DMA_PAGE_SIZE)))

static inline uint64_t dma_address(const volatile void *pointer) {
	return (uint64_t)(uintptr_t)pointer;
}

/* Byte-wise, so the compiler cannot turn it into a memset call or a string instruction. */
static inline void dma_zero(volatile void *pointer, uint32_t bytes) {
	volatile uint32_t *words = pointer;
	for (uint32_t i = 0; i < bytes / 4; i++) {
		words[i] = 0;
	}
}
