// ioctl numbers for the KVM structures that end in a flexible array.
//
// Debian 12's <linux/kvm.h> declares those arrays with __DECLARE_FLEX_ARRAY, which in
// C++ adds an empty struct member: sizeof(kvm_cpuid2) becomes 12 instead of 8, and
// the size is encoded in the ioctl number. KVM then answers EINVAL (or ENOTTY). These
// headers have the C layout, and the numbers are computed from them.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace brig::kvm_abi {

struct Cpuid2Header {
    uint32_t nent;
    uint32_t padding;
};
struct MsrsHeader {
    uint32_t nmsrs;
    uint32_t pad;
};
static_assert(sizeof(Cpuid2Header) == 8 && sizeof(MsrsHeader) == 8);
static_assert(sizeof(kvm_cpuid_entry2) == 40 && sizeof(kvm_msr_entry) == 16);

// A header followed by `count` entries, suitably aligned, for one of the ioctls below.
template <typename Header, typename Entry>
class FlexBuffer {
public:
    explicit FlexBuffer(size_t count)
        : storage_(std::make_unique<uint64_t[]>((sizeof(Header) + count * sizeof(Entry)) / sizeof(uint64_t) + 1)) {}
    explicit FlexBuffer(std::span<const Entry> entries) : FlexBuffer(entries.size()) {
        std::memcpy(this->entries(), entries.data(), entries.size_bytes());
    }
    Header* header() { return reinterpret_cast<Header*>(storage_.get()); }
    Entry* entries() { return reinterpret_cast<Entry*>(header() + 1); }

private:
    std::unique_ptr<uint64_t[]> storage_;
};

constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, Cpuid2Header);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, Cpuid2Header);
constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);

}  // namespace brig::kvm_abi
