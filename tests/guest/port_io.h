/*
 * Port and memory-mapped I/O. Paging is off in this guest, so a physical address
 * below 4 GiB is used as a pointer directly. volatile keeps the compiler from
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

static inline void mmio_write8(uint32_t address, uint8_t value) {
	*(volatile uint8_t *)(uintptr_t)address = value;
}

static inline void mmio_write16(uint32_t address, uint16_t value) {
	*(volatile uint16_t *)(uintptr_t)address = value;
}

static inline void mmio_write32(uint32_t address, uint32_t value) {
	*(volatile uint32_t *)(uintptr_t)address = value;
}
