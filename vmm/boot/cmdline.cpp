#include "vmm/boot/cmdline.h"

#include <algorithm>
#include <span>

#include "vmm/error.h"
#include "vmm/memory/layout.h"

namespace brig::boot {

uint64_t write_cmdline(const GuestMemory& mem, const std::string& cmdline, uint64_t max_length) {
    // kCmdlineMax must also hold the terminating NUL.
    const uint64_t limit = std::min(max_length, layout::kCmdlineMax - 1);
    if (cmdline.size() > limit) {
        throw InvalidArgument("kernel command line is too long: " + std::to_string(cmdline.size()) +
                              " bytes, the kernel accepts at most " + std::to_string(limit));
    }
    // The kernel stops at the first NUL: anything after it would be silently dropped.
    if (cmdline.find('\0') != std::string::npos) throw InvalidArgument("kernel command line contains a NUL byte");

    auto dst = mem.slice(layout::kCmdline, cmdline.size() + 1);
    std::copy(cmdline.begin(), cmdline.end(), dst.begin());
    dst.back() = 0;
    return layout::kCmdline;
}

}  // namespace brig::boot
