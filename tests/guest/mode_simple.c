/* The modes that need no more than a call or a short loop. */
#include "modes.h"

#include <stdbool.h>
#include <stdint.h>

#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "platform.h"
#include "port_io.h"
#include "power.h"
#include "timer.h"
#include "uart.h"

/* Half a second per line of wall-clock time, whatever the host's speed (timer.h). */
#define SPIN_MS_PER_LINE 500

#define ECHO_QUIT_BYTE 'q'

void mode_poweroff(const struct boot_info *info) {
	(void)info;
	power_off();
}

void mode_reset_acpi(const struct boot_info *info) {
	(void)info;
	reset_via_acpi();
}

void mode_reset_kbd(const struct boot_info *info) {
	(void)info;
	reset_via_keyboard_controller();
}

void mode_reset_triple(const struct boot_info *info) {
	(void)info;
	reset_via_triple_fault();
}

void mode_echo(const struct boot_info *info) {
	(void)info;
	console_write_line("echo: ready");
	bool at_line_start = true;
	for (;;) {
		uint8_t byte = uart_read_byte();
		if (byte == ECHO_QUIT_BYTE) {
			break;
		}
		uart_write_byte(byte);
		at_line_start = byte == '\n';
	}
	/* The quit byte is not echoed; keep "echo: done" on a line of its own. */
	if (!at_line_start) {
		console_write("\n");
	}
	console_write_line("echo: done");
	power_off();
}

/* lines=N: power off after N lines (default: spin forever). */
void mode_spin(const struct boot_info *info) {
	uint64_t lines = info ? cmdline_number(info->cmdline, "lines=", 0) : 0;
	for (uint64_t line = 0; lines == 0 || line < lines; line++) {
		console_write("spin: ");
		console_write_decimal(line);
		console_write("\n");
		sleep_ms(SPIN_MS_PER_LINE);
	}
	console_write_line("spin: done");
	power_off();
}

/*
 * Tells the VMM through pvpanic (port 0x505, QEMU's QEMU0001) that the guest panicked,
 * then halts: brig stops with exit 34. pvpanic=0 only halts (a guest that hangs);
 * without a pvpanic device the write goes nowhere and the guest halts too.
 */
#define PVPANIC_PORT 0x505
#define PVPANIC_PANICKED 1u

void mode_panic(const struct boot_info *info) {
	console_write_line("panic: requested");
	if (!info || cmdline_number(info->cmdline, "pvpanic=", 1) != 0)
		outb(PVPANIC_PORT, PVPANIC_PANICKED);
	halt_forever();
}

/*
 * Test hooks of brig's test device build (brig-device-test): a write of a magic value
 * to COM1's scratch register asks the serial device process to misbehave, so the
 * tests can check that brig reports it. A normal brig-device just stores the byte.
 */
#define UART_REG_SCRATCH 7
#define HOOK_FORBIDDEN_SYSCALL 0xf1
#define HOOK_MALFORMED_REPLY 0xf2
#define HOOK_CONTROL_MALFORMED_FRAME 0xe0
#define HOOK_CONTROL_BOGUS_CALL 0xe1
#define HOOK_CONTROL_REPORT_FLOOD 0xe2
#define HOOK_CONTROL_BOOTSTRAP_FLOOD 0xe3
#define HOOK_STOP_ANSWERING 0xe4
#define HOOK_OWN_SIGSYS_HANDLER 0xe5
#define HOOK_FORGED_REPORT 0xe6
#define HOOK_FORGED_LOG_LINES 0xe7
#define STALL_INSB_BYTES 1024
#define HOOK_ALLOCATE_UNTIL_FAILURE 0xf3

__attribute__((noreturn)) static void run_hook(uint8_t hook) {
	console_write_line("hook: sending");
	outb(COM1_PORT + UART_REG_SCRATCH, hook);
	/* Keep the device busy so the misbehaviour is noticed on the next access. */
	mode_spin(0);
}

void mode_hook_syscall(const struct boot_info *info) {
	(void)info;
	run_hook(HOOK_FORBIDDEN_SYSCALL);
}

void mode_hook_malformed(const struct boot_info *info) {
	(void)info;
	run_hook(HOOK_MALFORMED_REPLY);
}

void mode_hook_control_malformed(const struct boot_info *info) {
	(void)info;
	run_hook(HOOK_CONTROL_MALFORMED_FRAME);
}

void mode_hook_control_bogus_call(const struct boot_info *info) {
	(void)info;
	run_hook(HOOK_CONTROL_BOGUS_CALL);
}

void mode_hook_report_flood(const struct boot_info *info) {
	(void)info;
	run_hook(HOOK_CONTROL_REPORT_FLOOD);
}

void mode_hook_bootstrap_flood(const struct boot_info *info) {
	(void)info;
	run_hook(HOOK_CONTROL_BOOTSTRAP_FLOOD);
}

/* The serial device stops answering, then the guest reads 1024 bytes from it with one
 * `rep insb` (one KVM exit, 1024 forwarded reads). */
void mode_hook_stall_insb(const struct boot_info *info) {
	(void)info;
	static uint8_t sink[STALL_INSB_BYTES];
	console_write_line("hook: sending");
	outb(COM1_PORT + UART_REG_SCRATCH, HOOK_STOP_ANSWERING);
	void *dst = sink;
	uint32_t count = STALL_INSB_BYTES;
	__asm__ volatile("rep insb" : "+D"(dst), "+c"(count) : "d"((uint16_t)COM1_PORT) : "memory");
	console_write_line("stall: insb returned");
	halt_forever();
}

void mode_hook_alloc(const struct boot_info *info) {
	(void)info;
	run_hook(HOOK_ALLOCATE_UNTIL_FAILURE);
}

void mode_hook_sigsys_handler(const struct boot_info *info) {
	(void)info;
	run_hook(HOOK_OWN_SIGSYS_HANDLER);
}

void mode_hook_forged_report(const struct boot_info *info) {
	(void)info;
	run_hook(HOOK_FORGED_REPORT);
}

void mode_hook_forged_log(const struct boot_info *info) {
	(void)info;
	console_write_line("hook: sending");
	outb(COM1_PORT + UART_REG_SCRATCH, HOOK_FORGED_LOG_LINES);
	console_write_line("hook: sent");
	power_off();
}
