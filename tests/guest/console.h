/*
 * Line-oriented output on COM1. Test harnesses match these lines exactly, so the
 * number formats are fixed: hex is lowercase with a 0x prefix and no padding,
 * decimal has no padding. Lines end with "\n" only.
 */
#pragma once

#include <stdint.h>

void console_write(const char *text);
void console_write_bytes(const char *bytes, uint32_t length);
void console_write_hex(uint64_t value);
void console_write_decimal(uint64_t value);
void console_write_line(const char *text);
