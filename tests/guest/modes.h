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
__attribute__((noreturn)) void mode_hook_syscall(const struct boot_info *info);
__attribute__((noreturn)) void mode_hook_malformed(const struct boot_info *info);
