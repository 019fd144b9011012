#include "vmm/kvm/msrs.h"

#include <cstdint>

namespace brig {
namespace {

namespace msr {
constexpr uint32_t kSysenterCs = 0x174;
constexpr uint32_t kSysenterEsp = 0x175;
constexpr uint32_t kSysenterEip = 0x176;
constexpr uint32_t kStar = 0xc0000081;
constexpr uint32_t kLstar = 0xc0000082;
constexpr uint32_t kCstar = 0xc0000083;
constexpr uint32_t kSyscallMask = 0xc0000084;
constexpr uint32_t kKernelGsBase = 0xc0000102;
constexpr uint32_t kTsc = 0x10;
constexpr uint32_t kMiscEnable = 0x1a0;
constexpr uint32_t kMtrrDefType = 0x2ff;
}  // namespace msr

constexpr uint64_t kMiscEnableFastString = 1u << 0;
constexpr uint64_t kMtrrEnable = 1u << 11;
constexpr uint64_t kMtrrTypeWriteBack = 6;

kvm_msr_entry make(uint32_t index, uint64_t value) {
    kvm_msr_entry e{};
    e.index = index;
    e.data = value;
    return e;
}

}  // namespace

std::vector<kvm_msr_entry> boot_msrs() {
    // The syscall MSRs start at zero so nothing stale leaks in; MTRRs default to
    // write-back because there is no firmware to program them.
    return {
        make(msr::kSysenterCs, 0),
        make(msr::kSysenterEsp, 0),
        make(msr::kSysenterEip, 0),
        make(msr::kStar, 0),
        make(msr::kLstar, 0),
        make(msr::kCstar, 0),
        make(msr::kSyscallMask, 0),
        make(msr::kKernelGsBase, 0),
        make(msr::kTsc, 0),
        make(msr::kMiscEnable, kMiscEnableFastString),
        make(msr::kMtrrDefType, kMtrrEnable | kMtrrTypeWriteBack),
    };
}

}  // namespace brig
