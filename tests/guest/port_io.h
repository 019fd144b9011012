/*
 * Port and memory-mapped I/O. Physical addresses below 4 GiB are used as pointers
 * directly: paging is off in the PVH build, and the bzImage build runs on the
 * loader's identity map of the low 4 GiB. volatile keeps the compiler from
 * merging or dropping device accesses.
 */
#pragma once

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t value) {
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t value) {
	__asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t value) {
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port) {
	uint8_t value;
	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

static inline uint32_t mmio_read32(uintptr_t address) {
	return *(volatile uint32_t *)address;
}

static inline uint8_t mmio_read8(uintptr_t address) {
	return *(volatile uint8_t *)address;
}

static inline void mmio_write8(uintptr_t address, uint8_t value) {
	*(volatile uint8_t *)address = value;
}

static inline void mmio_write16(uintptr_t address, uint16_t value) {
	*(volatile uint16_t *)address = value;
}

static inline void mmio_write32(uintptr_t address, uint32_t value) {
	*(volatile uint32_t *)address = value;
}
