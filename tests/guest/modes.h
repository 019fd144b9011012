/*
 * One function per command-line mode. Each is a complete scenario: it ends by
 * powering off, resetting or halting, so none returns.
 */
#pragma once

#include "pvh_start_info.h"

__attribute__((noreturn)) void mode_info(const struct hvm_start_info *start_info);
__attribute__((noreturn)) void mode_poweroff(const struct hvm_start_info *start_info);
__attribute__((noreturn)) void mode_reset_acpi(const struct hvm_start_info *start_info);
__attribute__((noreturn)) void mode_reset_kbd(const struct hvm_start_info *start_info);
__attribute__((noreturn)) void mode_reset_triple(const struct hvm_start_info *start_info);
__attribute__((noreturn)) void mode_echo(const struct hvm_start_info *start_info);
__attribute__((noreturn)) void mode_spin(const struct hvm_start_info *start_info);
__attribute__((noreturn)) void mode_panic(const struct hvm_start_info *start_info);
