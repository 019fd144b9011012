/* Polled 16550 UART on COM1: no interrupts, so it works before anything else is set up. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

void uart_init(void);
void uart_write_byte(uint8_t byte);
bool uart_byte_available(void);
uint8_t uart_read_byte(void);
