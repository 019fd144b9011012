#include "vmm/platform/pvpanic.h"

#include <spdlog/spdlog.h>

namespace brig {

void Pvpanic::read(uint64_t, std::span<uint8_t> data) {
    for (auto& b : data) b = 0;
    if (!data.empty()) data[0] = kPanicked | kCrashLoaded;
}

void Pvpanic::write(uint64_t, std::span<const uint8_t> data) {
    if (data.empty()) return;
    if (data[0] & kPanicked) {
        on_panic_();
    } else if (data[0] & kCrashLoaded) {
        spdlog::info("[pvpanic] the guest panicked and loaded a crash kernel; it runs on");
    }
}

}  // namespace brig
