/* The few privileged CPU operations the guest needs, kept to plain instructions. */
#pragma once

#include <stdint.h>

static inline void interrupts_disable(void) {
	__asm__ volatile("cli" ::: "memory");
}

/* With interrupts off nothing wakes the CPU again: the VMM sees a halted vCPU. */
static inline __attribute__((noreturn)) void halt_forever(void) {
	for (;;) {
		__asm__ volatile("cli; hlt" ::: "memory");
	}
}

/*
 * Burn time without a timer (none is set up). The empty asm with the counter as
 * operand stops the compiler from deleting or collapsing the loop. Under brig's
 * ring-0 instruction emulator one iteration costs a few instructions, so 200000
 * iterations is roughly half a second there and far less under QEMU.
 */
static inline void busy_wait(uint32_t iterations) {
	for (uint32_t i = 0; i < iterations; i++) {
		__asm__ volatile("" : "+r"(i));
	}
}
