// An Ethernet MAC address as brig's --net option and the virtio-net device both
// spell it: six two-digit hex fields separated by ':'.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace brig::ipc {

struct MacAddress {
    std::array<uint8_t, 6> bytes{};

    // nullopt unless exactly "xx:xx:xx:xx:xx:xx" (either case).
    static std::optional<MacAddress> parse(std::string_view text);
    std::string to_string() const;                      // lower case
    bool is_multicast() const { return bytes[0] & 1; }  // the I/G bit; broadcast too
    bool operator==(const MacAddress&) const = default;
};

}  // namespace brig::ipc
