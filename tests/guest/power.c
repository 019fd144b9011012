#include "power.h"

#include <stdint.h>

#include "acpi.h"
#include "console.h"
#include "cpu.h"
#include "platform.h"
#include "port_io.h"

/* S5 ("soft off") sleep type; brig's _S5 package uses the same value. */
#define SLEEP_TYPE_S5 5u

/* Hardware-reduced ACPI sleep control register (ACPI 6.4, section 4.8.3.7). */
#define SLEEP_CONTROL_SLP_TYP_SHIFT 2
#define SLEEP_CONTROL_SLP_EN (1u << 5)

/* Fixed-hardware PM1 control register (ACPI 6.4, section 4.8.3.2.1). */
#define PM1_CONTROL_SLP_TYP_SHIFT 10
#define PM1_CONTROL_SLP_EN (1u << 13)

/* i8042 command "pulse output line 0", which is wired to the CPU reset line. */
#define I8042_COMMAND_PULSE_RESET 0xfe

/*
 * After a power-off or reset request the guest just halts and waits. Both brig
 * and QEMU may finish the request a little after the write returns (QEMU's
 * power off is handled by its main loop while the vCPU keeps running), so
 * "still running" is not proof of failure and any busy-wait long enough for
 * QEMU would take minutes under brig's ring-0 emulator. A VMM that ignores the
 * request therefore shows up as a halted guest after the "via" line, and
 * "...: failed" means only that no register could be written at all.
 */
static __attribute__((noreturn)) void await_power_action(void) {
	halt_forever();
}

static __attribute__((noreturn)) void report_failure_and_halt(const char *line) {
	console_write_line(line);
	halt_forever();
}

void power_off(void) {
	interrupts_disable();
	struct acpi_generic_address sleep_control;
	if (acpi_sleep_control_register(&sleep_control)) {
		console_write_line("poweroff: via sleep-control");
		if (acpi_write_register(&sleep_control,
		                        (SLEEP_TYPE_S5 << SLEEP_CONTROL_SLP_TYP_SHIFT) | SLEEP_CONTROL_SLP_EN)) {
			await_power_action();
		}
		/* The register uses an access this guest cannot make: try the legacy block. */
	}
	uint16_t pm1a_control;
	if (acpi_pm1a_control_port(&pm1a_control)) {
		console_write_line("poweroff: via pm1a");
		outw(pm1a_control, (uint16_t)((SLEEP_TYPE_S5 << PM1_CONTROL_SLP_TYP_SHIFT) | PM1_CONTROL_SLP_EN));
		await_power_action();
	}
	report_failure_and_halt("poweroff: failed");
}

void reset_via_acpi(void) {
	interrupts_disable();
	console_write_line("reset: via acpi");
	struct acpi_generic_address reset_register;
	uint8_t reset_value;
	if (acpi_reset_register(&reset_register, &reset_value) &&
	    acpi_write_register(&reset_register, reset_value)) {
		await_power_action();
	}
	report_failure_and_halt("reset: failed");
}

void reset_via_keyboard_controller(void) {
	interrupts_disable();
	console_write_line("reset: via kbd");
	outb(I8042_COMMAND_PORT, I8042_COMMAND_PULSE_RESET);
	await_power_action();
}

/*
 * An interrupt descriptor table with limit 0 has no valid gate, so any exception
 * cannot be delivered: the CPU raises #GP, which cannot be delivered either, which
 * becomes a double fault, which cannot be delivered: a triple fault, and the CPU
 * shuts down (a VMM sees KVM_EXIT_SHUTDOWN and must treat it as a reset).
 *
 * The exception is raised with ud2 on purpose: int3 is not handled by the kvm_pvm
 * ring-0 emulator brig runs guests under, and a divide by zero depends on the
 * compiler not folding it. ud2 is architecturally guaranteed to raise #UD.
 */
void reset_via_triple_fault(void) {
	interrupts_disable();
	console_write_line("reset: via triple");
	/* lidt reads a 2-byte limit and a pointer-sized base: 6 bytes, or 10 in long mode. */
	static const struct {
		uint16_t limit;
		uintptr_t base;
	} __attribute__((packed)) empty_idt = {0, 0};
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt) : "memory");
	/* Unreachable on a conforming CPU; kept so a broken VMM is reported, not hidden. */
	report_failure_and_halt("reset: failed");
}
