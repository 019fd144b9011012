/*
 * brig test guest: a tiny kernel whose behaviour is picked by "mode=NAME" on its
 * command line, so integration tests can drive each VMM exit path (serial output
 * and input, ACPI power off, the three reset paths, a hung or busy guest) and
 * compare against QEMU running the same scenario.
 *
 * Two builds share this code: the PVH ELF (entry.S -> pvh_boot.c) and the bzImage
 * (bzimage_entry.S -> linux64_boot.c). Each entry path turns its boot structure
 * into a struct boot_info and calls guest_main.
 */
#include <stddef.h>

#include "acpi.h"
#include "boot_info.h"
#include "cmdline.h"
#include "console.h"
#include "modes.h"
#include "power.h"
#include "uart.h"

struct mode {
	const char *name;
	__attribute__((noreturn)) void (*run)(const struct boot_info *info);
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
	{"demo", mode_demo},
	{"console-echo", mode_console_echo},
	{"hook-syscall", mode_hook_syscall},
	{"hook-malformed", mode_hook_malformed},
	{"hook-control-malformed", mode_hook_control_malformed},
	{"hook-control-bogus-call", mode_hook_control_bogus_call},
	{"hook-report-flood", mode_hook_report_flood},
	{"hook-bootstrap-flood", mode_hook_bootstrap_flood},
	{"hook-stall-insb", mode_hook_stall_insb},
	{"hook-sigsys-handler", mode_hook_sigsys_handler},
	{"hook-forged-report", mode_hook_forged_report},
	{"hook-forged-log", mode_hook_forged_log},
	{"hook-alloc", mode_hook_alloc},
	{"virtio-info", mode_virtio_info},
	{"rng", mode_rng},
	{"console", mode_console},
	{"blk-write", mode_blk_write},
	{"blk-checksum", mode_blk_checksum},
	{"blk-ro", mode_blk_ro},
	{"blk-past-end", mode_blk_past_end},
	{"blk-write-log", mode_blk_write_log},
	{"blk-id", mode_blk_id},
	{"blk-bench", mode_blk_bench},
	{"reboot", mode_reboot},
	{"topology", mode_topology},
	{"serial-ports", mode_serial_ports},
	{"reg-bench", mode_reg_bench},
	{"hostile-oob", mode_hostile_oob},
	{"hostile-len-overflow", mode_hostile_len_overflow},
	{"hostile-loop", mode_hostile_loop},
	{"hostile-avail-jump", mode_hostile_avail_jump},
	{"hostile-qsize", mode_hostile_qsize},
	{"hostile-indirect-oob", mode_hostile_indirect_oob},
	{"hostile-notify-early", mode_hostile_notify_early},
	{"hostile-mmio-split", mode_hostile_mmio_split},
	{"print-flood", mode_print_flood},
	{"hostile-reset-during-batch", mode_hostile_reset_during_batch},
	{"net-arp", mode_net_arp},
	{"net-ping", mode_net_ping},
	{"net-responder", mode_net_responder},
	{"net-udp-tx", mode_net_udp_tx},
	{"net-udp-rx", mode_net_udp_rx},
	{"net-hostile-rx-readonly", mode_net_hostile_rx_readonly},
	{"net-hostile-tx-writable", mode_net_hostile_tx_writable},
	{"net-hostile-tx-short", mode_net_hostile_tx_short},
	{"net-hostile-tx-long", mode_net_hostile_tx_long},
	{"net-hostile-tx-gso", mode_net_hostile_tx_gso},
	{"net-hostile-tx-loop", mode_net_hostile_tx_loop},
	{"net-hostile-tx-oob", mode_net_hostile_tx_oob},
	{"vsock-echo-client", mode_vsock_echo_client},
	{"vsock-echo-server", mode_vsock_echo_server},
	{"vsock-send", mode_vsock_send},
	{"vsock-recv", mode_vsock_recv},
	{"vsock-refused", mode_vsock_refused},
	{"vsock-hostile", mode_vsock_hostile},
	{"vsock-ready", mode_vsock_ready},
	{"vsock-flood", mode_vsock_flood},
};

void guest_main(const struct boot_info *info) {
	uart_init();
	struct text_span mode_name = cmdline_mode(info->cmdline);

	console_write("brig-test-guest: start mode=");
	console_write_bytes(mode_name.start, mode_name.length);
	console_write("\n");
	console_write("cmdline: ");
	console_write_line(info->cmdline);
	if (info->error != NULL) {
		console_write_line(info->error);
	}

	acpi_init(info->rsdp_paddr);
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		if (text_span_equals(mode_name, modes[i].name)) {
			modes[i].run(info);
		}
	}
	console_write("error: unknown mode ");
	console_write_bytes(mode_name.start, mode_name.length);
	console_write("\n");
	power_off();
}
