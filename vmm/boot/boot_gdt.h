// The flat segments a kernel is entered with, described once as kvm_segment (what KVM
// loads into the hidden segment state) and encoded from that into the GDT at
// layout::kBootGdt (what the guest sees if it reloads a selector), so the two always agree.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

#include "vmm/memory/guest_memory.h"

namespace brig::boot {

// boot.rst requires __BOOT_CS = 0x10 and __BOOT_DS = 0x18; PVH uses the same layout.
constexpr uint16_t kBootCodeSelector = 0x10;
constexpr uint16_t kBootDataSelector = 0x18;
constexpr uint16_t kBootTssSelector = 0x20;

enum class CodeMode { Long64, Protected32 };

struct BootSegments {
    kvm_segment code;
    kvm_segment data;
    kvm_segment tss;
};

BootSegments boot_segments(CodeMode mode);

// The 8-byte GDT descriptor for a code or data segment (Intel SDM vol. 3, 3.4.5).
uint64_t gdt_descriptor(const kvm_segment& segment);

// Writes the GDT [null, null, code, data] at layout::kBootGdt and returns its limit.
uint16_t write_boot_gdt(const GuestMemory& mem, const BootSegments& segments);

}  // namespace brig::boot
