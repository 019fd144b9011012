#include "console.h"

#include "uart.h"

void console_write(const char *text) {
	while (*text) {
		uart_write_byte((uint8_t)*text++);
	}
}

void console_write_bytes(const char *bytes, uint32_t length) {
	for (uint32_t i = 0; i < length; i++) {
		uart_write_byte((uint8_t)bytes[i]);
	}
}

void console_write_line(const char *text) {
	console_write(text);
	console_write("\n");
}

void console_write_hex(uint64_t value) {
	static const char digits[] = "0123456789abcdef";
	char buffer[16];
	int length = 0;
	do {
		buffer[length++] = digits[value & 0xf];
		value >>= 4;
	} while (value != 0);
	console_write("0x");
	while (length > 0) {
		uart_write_byte((uint8_t)buffer[--length]);
	}
}

/*
 * 64-bit division by ten without libgcc: a 32-bit build would otherwise call
 * __udivdi3, which a -nostdlib freestanding link does not have. Shift-and-subtract
 * long division uses plain integer instructions only.
 */
static uint64_t divide_by_ten(uint64_t dividend, uint32_t *remainder) {
	uint64_t quotient = 0;
	uint32_t partial = 0;
	for (int bit = 63; bit >= 0; bit--) {
		partial = (partial << 1) | (uint32_t)((dividend >> bit) & 1);
		quotient <<= 1;
		if (partial >= 10) {
			partial -= 10;
			quotient |= 1;
		}
	}
	*remainder = partial;
	return quotient;
}

void console_write_decimal(uint64_t value) {
	char buffer[20];
	int length = 0;
	do {
		uint32_t digit;
		value = divide_by_ten(value, &digit);
		buffer[length++] = (char)('0' + digit);
	} while (value != 0);
	while (length > 0) {
		uart_write_byte((uint8_t)buffer[--length]);
	}
}
