// Guest physical address map for x86-64. One place, so the loader, the ACPI tables,
// the e820 map and the device buses can never disagree.
#pragma once

#include <array>
#include <cstdint>

#include "ipc/guest_ram_map.h"

namespace brig::layout {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;

// Low memory: real-mode era structures the boot protocols expect below 1 MiB.
constexpr uint64_t kBootGdt = 0x500;
constexpr uint64_t kBootIdt = 0x520;
constexpr uint64_t kPvhStartInfo = 0x6000;  // hvm_start_info, modlist, memmap: one page
constexpr uint64_t kZeroPage = 0x7000;      // Linux boot_params
constexpr uint64_t kBootStackTop = 0x8ff0;
constexpr uint64_t kPml4 = 0x9000;
constexpr uint64_t kPdpt = 0xa000;
constexpr uint64_t kPageDirs = 0xb000;  // 4 pages: identity map of the low 4 GiB
constexpr uint64_t kCmdline = 0x20000;
constexpr uint64_t kCmdlineMax = 0x10000;
constexpr uint64_t kEbdaStart = 0x9fc00;   // end of usable conventional memory
constexpr uint64_t kAcpiTables = 0xe0000;  // RSDP first: Linux also scans 0xe0000..0xfffff
constexpr uint64_t kAcpiTablesMax = 0x100000 - kAcpiTables;
constexpr uint64_t kHighMemory = 0x100000;  // 1 MiB: protected-mode kernel load address

// The 32-bit MMIO hole (the guest RAM map, shared with the devices, is its home).
constexpr uint64_t kMmioHoleStart = ipc::kRamHoleStart;
constexpr uint64_t kMmioHoleEnd = ipc::kRamHoleEnd;
constexpr uint64_t kVirtioMmioBase = 0xd0000000;
constexpr uint64_t kVirtioMmioStride = 0x1000;
// How many virtio-mmio windows the board has (the test guest probes as many:
// tests/guest/virtio_mmio.c). Each takes one GSI from kVirtioFirstIrq up.
constexpr uint32_t kVirtioMmioWindows = 16;
constexpr uint64_t kIoapic = 0xfec00000;
constexpr uint64_t kLapic = 0xfee00000;
// KVM needs three pages for the TSS and one for the identity map, inside the hole.
constexpr uint64_t kKvmTss = 0xfffbd000;
constexpr uint64_t kKvmIdentityMap = 0xfffbc000;

// Legacy port I/O.
// The PC's COM1..COM4: ports and ISA IRQs (COM1 and COM3 share 4, COM2 and COM4 share 3).
struct ComPort {
    uint16_t port;
    uint32_t irq;
};
constexpr std::array<ComPort, 4> kComPorts = {{{0x3f8, 4}, {0x2f8, 3}, {0x3e8, 4}, {0x2e8, 3}}};
constexpr uint16_t kComSize = 8;
constexpr uint16_t kCom1Port = kComPorts[0].port;
constexpr uint16_t kCom1Size = kComSize;
constexpr uint32_t kCom1Irq = kComPorts[0].irq;
constexpr uint16_t kI8042DataPort = 0x60;
constexpr uint16_t kI8042CommandPort = 0x64;
// pvpanic (QEMU's docs/specs/pvpanic.rst): one byte, the guest's "I panicked".
constexpr uint16_t kPvpanicPort = 0x505;
// ACPI hardware-reduced power management registers (FADT sleep control/status, reset).
constexpr uint16_t kAcpiPmPort = 0x600;
constexpr uint16_t kAcpiSleepControlPort = kAcpiPmPort + 0;
constexpr uint16_t kAcpiSleepStatusPort = kAcpiPmPort + 1;
constexpr uint16_t kAcpiResetPort = kAcpiPmPort + 2;
constexpr uint16_t kAcpiPmSize = 3;
constexpr uint8_t kAcpiResetValue = 0x01;
constexpr uint8_t kAcpiS5SleepType = 5;  // _S5 package value; SLP_TYP in sleep control

// The first interrupt handed to virtio-mmio devices (GSIs below are ISA).
constexpr uint32_t kVirtioFirstIrq = 5;
// KVM's in-kernel IOAPIC has 24 pins; every virtio window's GSI must be one of them.
constexpr uint32_t kIoapicPins = 24;
static_assert(kVirtioFirstIrq + kVirtioMmioWindows <= kIoapicPins, "virtio-mmio GSIs past the IOAPIC");
// The Generic Event Device's interrupt (the ACPI power button), after the virtio ones.
constexpr uint32_t kGedIrq = kVirtioFirstIrq + kVirtioMmioWindows;
static_assert(kGedIrq < kIoapicPins, "the GED's GSI past the IOAPIC");

}  // namespace brig::layout
