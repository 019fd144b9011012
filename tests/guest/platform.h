/*
 * Fixed addresses of the machine the guest expects. They mirror
 * vmm/memory/layout.h (C++, so not includable here); keep the two in step.
 * Everything found at run time (ACPI registers, memory map) is NOT here on purpose:
 * the guest must discover those the way a real OS does, so it tests the VMM's tables.
 */
#pragma once

/* 16550 UART on the first PC serial port (brig::layout::kCom1Port). */
#define COM1_PORT 0x3f8

/* i8042 keyboard controller command port (brig::layout::kI8042CommandPort). */
#define I8042_COMMAND_PORT 0x64

/* Where legacy BIOSes leave the RSDP; searched only when the boot protocol gives none. */
#define BIOS_ROM_AREA_START 0xe0000u
#define BIOS_ROM_AREA_END 0x100000u
