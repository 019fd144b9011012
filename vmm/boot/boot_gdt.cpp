#include "vmm/boot/boot_gdt.h"

#include <array>

#include "vmm/memory/layout.h"

namespace brig::boot {

namespace {

constexpr uint32_t kFlatLimit = 0xffffffff;  // 4 GiB, page granular
constexpr uint8_t kTypeCodeExecuteReadAccessed = 0xb;
constexpr uint8_t kTypeDataReadWriteAccessed = 0x3;
constexpr uint8_t kTypeBusyTss = 0xb;        // a TSS must be busy for VM entry
constexpr uint32_t kMinimalTssLimit = 0x67;  // 104-byte TSS, no I/O bitmap

// Granularity: with G set the descriptor stores the limit in 4 KiB units.
constexpr unsigned kPageGranularityShift = 12;

constexpr uint64_t kGdtEntries = 4;  // null, null, code (0x10), data (0x18)
static_assert(kBootCodeSelector / 8 < kGdtEntries && kBootDataSelector / 8 < kGdtEntries);
static_assert(layout::kBootGdt + kGdtEntries * sizeof(uint64_t) <= layout::kBootIdt, "the GDT would overrun the IDT");

kvm_segment flat_segment(uint16_t selector, uint8_t type) {
    kvm_segment seg{};
    seg.base = 0;
    seg.limit = kFlatLimit;
    seg.selector = selector;
    seg.type = type;
    seg.present = 1;
    seg.dpl = 0;
    seg.s = 1;  // code/data, not a system segment
    seg.g = 1;
    return seg;
}

}  // namespace

BootSegments boot_segments(CodeMode mode) {
    BootSegments segs{};
    segs.code = flat_segment(kBootCodeSelector, kTypeCodeExecuteReadAccessed);
    // Long mode code: L set and D/B clear. 32-bit code: D/B set.
    segs.code.l = mode == CodeMode::Long64 ? 1 : 0;
    segs.code.db = mode == CodeMode::Long64 ? 0 : 1;

    segs.data = flat_segment(kBootDataSelector, kTypeDataReadWriteAccessed);
    segs.data.db = 1;

    // KVM refuses to enter a guest without a usable TR. The kernel loads its own TSS before
    // it could ever need one, so this descriptor lives only in KVM's hidden state: the
    // GDT slot at 0x20 would overlap the IDT at layout::kBootIdt.
    segs.tss = {};
    segs.tss.selector = kBootTssSelector;
    segs.tss.limit = kMinimalTssLimit;
    segs.tss.type = kTypeBusyTss;
    segs.tss.present = 1;
    return segs;
}

uint64_t gdt_descriptor(const kvm_segment& seg) {
    const uint64_t limit = seg.g ? (seg.limit >> kPageGranularityShift) : seg.limit;
    const uint64_t base = seg.base;
    // The base and limit are split across the descriptor for 80286 compatibility.
    return (limit & 0xffff) |           // limit 15:0
           ((base & 0xffffff) << 16) |  // base 23:0
           (uint64_t{seg.type & 0xfu} << 40) | (uint64_t{seg.s & 1u} << 44) | (uint64_t{seg.dpl & 3u} << 45) |
           (uint64_t{seg.present & 1u} << 47) | (((limit >> 16) & 0xf) << 48) |  // limit 19:16
           (uint64_t{seg.avl & 1u} << 52) | (uint64_t{seg.l & 1u} << 53) | (uint64_t{seg.db & 1u} << 54) |
           (uint64_t{seg.g & 1u} << 55) | (((base >> 24) & 0xff) << 56);  // base 31:24
}

uint16_t write_boot_gdt(const GuestMemory& mem, const BootSegments& segs) {
    std::array<uint64_t, kGdtEntries> gdt{};
    gdt[kBootCodeSelector / 8] = gdt_descriptor(segs.code);
    gdt[kBootDataSelector / 8] = gdt_descriptor(segs.data);
    mem.write_obj(layout::kBootGdt, gdt);
    return static_cast<uint16_t>(sizeof gdt - 1);
}

}  // namespace brig::boot
