/*
 * One function per command-line mode. Each is a complete scenario: it ends by
 * powering off, resetting or halting, so none returns.
 */
#pragma once

#include "boot_info.h"

__attribute__((noreturn)) void mode_info(const struct boot_info *info);
__attribute__((noreturn)) void mode_poweroff(const struct boot_info *info);
__attribute__((noreturn)) void mode_reset_acpi(const struct boot_info *info);
__attribute__((noreturn)) void mode_reset_kbd(const struct boot_info *info);
__attribute__((noreturn)) void mode_reset_triple(const struct boot_info *info);
__attribute__((noreturn)) void mode_echo(const struct boot_info *info);
__attribute__((noreturn)) void mode_spin(const struct boot_info *info);
__attribute__((noreturn)) void mode_panic(const struct boot_info *info);
__attribute__((noreturn)) void mode_demo(const struct boot_info *info);
__attribute__((noreturn)) void mode_console_echo(const struct boot_info *info);

/* The parts of modes that the demo strings together; each returns instead of powering off. */
void report_machine(const struct boot_info *info);
void report_virtio_devices(void);
void run_rng(void);
void run_console(void);
void run_blk_write(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_syscall(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_malformed(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_control_malformed(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_control_bogus_call(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_report_flood(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_bootstrap_flood(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_stall_insb(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_sigsys_handler(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_forged_report(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_forged_log(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_alloc(const struct boot_info *info);

/* virtio (mode_virtio.c, mode_blk.c, mode_blk_bench.c, mode_hostile.c, mode_net.c) */
__attribute__((noreturn)) void mode_virtio_info(const struct boot_info *info);
__attribute__((noreturn)) void mode_rng(const struct boot_info *info);
__attribute__((noreturn)) void mode_console(const struct boot_info *info);
__attribute__((noreturn)) void mode_blk_write(const struct boot_info *info);
__attribute__((noreturn)) void mode_blk_checksum(const struct boot_info *info);
__attribute__((noreturn)) void mode_blk_ro(const struct boot_info *info);
__attribute__((noreturn)) void mode_blk_past_end(const struct boot_info *info);
__attribute__((noreturn)) void mode_blk_write_log(const struct boot_info *info);
__attribute__((noreturn)) void mode_blk_id(const struct boot_info *info);
__attribute__((noreturn)) void mode_blk_bench(const struct boot_info *info);
__attribute__((noreturn)) void mode_reboot(const struct boot_info *info);
__attribute__((noreturn)) void mode_topology(const struct boot_info *info);
__attribute__((noreturn)) void mode_serial_ports(const struct boot_info *info);
__attribute__((noreturn)) void mode_reg_bench(const struct boot_info *info);
__attribute__((noreturn)) void mode_hostile_oob(const struct boot_info *info);
__attribute__((noreturn)) void mode_hostile_len_overflow(const struct boot_info *info);
__attribute__((noreturn)) void mode_hostile_loop(const struct boot_info *info);
__attribute__((noreturn)) void mode_hostile_avail_jump(const struct boot_info *info);
__attribute__((noreturn)) void mode_hostile_qsize(const struct boot_info *info);
__attribute__((noreturn)) void mode_hostile_indirect_oob(const struct boot_info *info);
__attribute__((noreturn)) void mode_hostile_notify_early(const struct boot_info *info);
__attribute__((noreturn)) void mode_hostile_mmio_split(const struct boot_info *info);
__attribute__((noreturn)) void mode_print_flood(const struct boot_info *info);
__attribute__((noreturn)) void mode_hostile_reset_during_batch(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_arp(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_ping(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_responder(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_udp_tx(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_udp_rx(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_hostile_rx_readonly(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_hostile_tx_writable(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_hostile_tx_short(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_hostile_tx_long(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_hostile_tx_gso(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_hostile_tx_loop(const struct boot_info *info);
__attribute__((noreturn)) void mode_net_hostile_tx_oob(const struct boot_info *info);

/* virtio-vsock (mode_vsock.c) */
__attribute__((noreturn)) void mode_vsock_echo_client(const struct boot_info *info);
__attribute__((noreturn)) void mode_vsock_echo_server(const struct boot_info *info);
__attribute__((noreturn)) void mode_vsock_send(const struct boot_info *info);
__attribute__((noreturn)) void mode_vsock_recv(const struct boot_info *info);
__attribute__((noreturn)) void mode_vsock_refused(const struct boot_info *info);
__attribute__((noreturn)) void mode_vsock_hostile(const struct boot_info *info);
__attribute__((noreturn)) void mode_vsock_ready(const struct boot_info *info);
__attribute__((noreturn)) void mode_vsock_flood(const struct boot_info *info);
