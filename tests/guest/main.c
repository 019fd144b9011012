/*
 * brig test guest: a tiny PVH kernel whose behaviour is picked by "mode=NAME" on
 * its command line, so integration tests can drive each VMM exit path (serial
 * output and input, ACPI power off, the three reset paths, a hung or busy guest)
 * and compare against QEMU running the same file.
 */
#include <stddef.h>

#include "acpi.h"
#include "cmdline.h"
#include "console.h"
#include "modes.h"
#include "power.h"
#include "pvh_start_info.h"
#include "uart.h"

struct mode {
	const char *name;
	__attribute__((noreturn)) void (*run)(const struct hvm_start_info *start_info);
};

static const struct mode modes[] = {
	{"info", mode_info},
	{"poweroff", mode_poweroff},
	{"reset-acpi", mode_reset_acpi},
	{"reset-kbd", mode_reset_kbd},
	{"reset-triple", mode_reset_triple},
	{"echo", mode_echo},
	{"spin", mode_spin},
	{"panic", mode_panic},
};

/* Used instead of a start_info with a wrong magic: every pointer in it is absent. */
static const struct hvm_start_info no_start_info = {.magic = HVM_START_MAGIC};

__attribute__((noreturn)) void guest_main(const struct hvm_start_info *start_info);

void guest_main(const struct hvm_start_info *start_info) {
	uart_init();
	bool start_info_valid = start_info != NULL && start_info->magic == HVM_START_MAGIC;
	if (!start_info_valid) {
		start_info = &no_start_info;
	}
	const char *cmdline = cmdline_from_start_info(start_info);
	struct text_span mode_name = cmdline_mode(cmdline);

	console_write("brig-test-guest: start mode=");
	console_write_bytes(mode_name.start, mode_name.length);
	console_write("\n");
	console_write("cmdline: ");
	console_write_line(cmdline);
	if (!start_info_valid) {
		console_write_line("error: bad start_info magic");
	}

	acpi_init(start_info);
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		if (text_span_equals(mode_name, modes[i].name)) {
			modes[i].run(start_info);
		}
	}
	console_write("error: unknown mode ");
	console_write_bytes(mode_name.start, mode_name.length);
	console_write("\n");
	power_off();
}
