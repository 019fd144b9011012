#include "vmm/console/console_escape.h"

namespace brig {

ConsoleEscape::Action ConsoleEscape::feed(std::span<const uint8_t> typed, std::vector<uint8_t>& to_guest) {
    for (const uint8_t byte : typed) {
        if (!after_prefix_) {
            if (byte == kPrefix)
                after_prefix_ = true;
            else
                to_guest.push_back(byte);
            continue;
        }
        after_prefix_ = false;
        if (byte == kQuit) return Action::Quit;
        to_guest.push_back(kPrefix);
        if (byte != kPrefix) to_guest.push_back(byte);
    }
    return Action::None;
}

}  // namespace brig
