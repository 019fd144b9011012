// The vCPUs' shape, after Alioth's CpuTopology: sockets x cores x threads, whose
// product is the vCPU count (--cpus N,sockets=S,cores=C,threads=T). As on real x86
// parts, a vCPU's APIC id packs its thread, core and socket numbers into bit fields
// just wide enough for the counts, so ids may skip (2 sockets of 3 cores: 0,1,2,4,5,6).
// The same ids go into KVM (the vCPU id, which KVM makes the APIC id), CPUID leaves 1,
// 4 and 0xB/0x1F (kvm/cpuid.h) and the MADT (acpi/madt.cpp).
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

namespace brig {

struct CpuTopology {
    unsigned sockets = 1;
    unsigned cores = 1;    // per socket
    unsigned threads = 1;  // per core

    // N vCPUs without a shape: one socket of N single-threaded cores.
    static CpuTopology flat(unsigned count) { return {1, count, 1}; }

    unsigned count() const { return sockets * cores * threads; }
    unsigned thread_bits() const { return width(threads); }
    unsigned core_bits() const { return width(cores); }
    // vCPU `index` (0..count-1): thread fastest, then core, then socket.
    uint32_t apic_id(unsigned index) const {
        const unsigned thread = index % threads;
        const unsigned core = (index / threads) % cores;
        const unsigned socket = index / (threads * cores);
        return (socket << (thread_bits() + core_bits())) | (core << thread_bits()) | thread;
    }
    std::vector<uint32_t> apic_ids() const {
        std::vector<uint32_t> ids;
        for (unsigned i = 0; i < count(); ++i) ids.push_back(apic_id(i));
        return ids;
    }

private:
    static unsigned width(unsigned n) { return n <= 1 ? 0 : static_cast<unsigned>(std::bit_width(n - 1u)); }
};

}  // namespace brig
