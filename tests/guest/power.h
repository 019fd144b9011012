/*
 * Ending the guest in the ways a VMM has to handle. Each prints the path it takes
 * first ("poweroff: via ...", "reset: via ...") so a harness can tell which one the
 * VMM honoured, then halts with interrupts off until the VMM acts. "...: failed"
 * is printed only when there was no register to write (see power.c).
 */
#pragma once

__attribute__((noreturn)) void power_off(void);
__attribute__((noreturn)) void reset_via_acpi(void);
__attribute__((noreturn)) void reset_via_keyboard_controller(void);
__attribute__((noreturn)) void reset_via_triple_fault(void);
