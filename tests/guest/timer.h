/*
 * Sleeping for wall-clock time: the local APIC's one-shot timer and HLT. A busy loop
 * would run at whatever speed the host's ring-0 emulator has (the time a line of
 * mode=spin takes would depend on the host) and would burn the vCPU's CPU time, which
 * the tests measure to check that brig itself does not spin.
 */
#pragma once

#include <stdint.h>

/* Waits `ms` milliseconds with the vCPU halted; interrupts are off again on return. */
void sleep_ms(uint32_t ms);

/*
 * Waits up to `ms` milliseconds (at most 4000) without halting: polls ready(arg) and
 * returns true as soon as it says so, false when the time is up. It burns the vCPU,
 * so only a latency measurement asks for it (vsock.poll=1).
 */
#include <stdbool.h>
bool poll_ms(uint32_t ms, bool (*ready)(void *arg), void *arg);
