#include "uart.h"

#include "platform.h"
#include "port_io.h"

/* 16550 register offsets from the base port. */
enum {
	UART_REG_DATA = 0,          /* RBR on read, THR on write (DLAB = 0) */
	UART_REG_DIVISOR_LOW = 0,   /* DLL (DLAB = 1) */
	UART_REG_INT_ENABLE = 1,    /* IER (DLAB = 0) */
	UART_REG_DIVISOR_HIGH = 1,  /* DLM (DLAB = 1) */
	UART_REG_LINE_CONTROL = 3,  /* LCR */
	UART_REG_MODEM_CONTROL = 4, /* MCR */
	UART_REG_LINE_STATUS = 5,   /* LSR */
};

enum {
	LCR_WORD_LENGTH_8 = 0x03,
	LCR_DIVISOR_LATCH_ACCESS = 0x80,
	MCR_DTR = 0x01,
	MCR_RTS = 0x02,
	LSR_DATA_READY = 0x01,
	LSR_TRANSMIT_HOLDING_EMPTY = 0x20,
};

/* Divisor 1 = 115200 baud. Emulated UARTs ignore it, but real-looking setup costs nothing. */
#define UART_DIVISOR_115200 1

void uart_init(void) {
	/* Polling only: an interrupt nobody handles would be a spurious fault source. */
	outb(COM1_PORT + UART_REG_INT_ENABLE, 0);
	outb(COM1_PORT + UART_REG_LINE_CONTROL, LCR_DIVISOR_LATCH_ACCESS);
	outb(COM1_PORT + UART_REG_DIVISOR_LOW, UART_DIVISOR_115200 & 0xff);
	outb(COM1_PORT + UART_REG_DIVISOR_HIGH, UART_DIVISOR_115200 >> 8);
	outb(COM1_PORT + UART_REG_LINE_CONTROL, LCR_WORD_LENGTH_8);
	/*
	 * FCR is left alone on purpose: enabling the FIFOs flushes them, which would
	 * drop input a harness typed before the guest got here. Polled I/O does not
	 * need the FIFOs.
	 */
	outb(COM1_PORT + UART_REG_MODEM_CONTROL, MCR_DTR | MCR_RTS);
}

void uart_write_byte(uint8_t byte) {
	/* The VMM may model a finite transmitter; never write over an unsent byte. */
	while (!(inb(COM1_PORT + UART_REG_LINE_STATUS) & LSR_TRANSMIT_HOLDING_EMPTY)) {
	}
	outb(COM1_PORT + UART_REG_DATA, byte);
}

bool uart_byte_available(void) {
	return inb(COM1_PORT + UART_REG_LINE_STATUS) & LSR_DATA_READY;
}

uint8_t uart_read_byte(void) {
	while (!uart_byte_available()) {
	}
	return inb(COM1_PORT + UART_REG_DATA);
}
