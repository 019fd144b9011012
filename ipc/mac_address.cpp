#include "ipc/mac_address.h"

#include <charconv>

namespace brig::ipc {

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
    constexpr size_t kLength = 17;  // 6 * 2 digits + 5 colons
    if (text.size() != kLength) return std::nullopt;
    MacAddress mac;
    for (size_t i = 0; i < mac.bytes.size(); ++i) {
        const char* field = text.data() + i * 3;
        if (i > 0 && field[-1] != ':') return std::nullopt;
        for (int d = 0; d < 2; ++d) {
            const char c = field[d];
            const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex) return std::nullopt;
        }
        std::from_chars(field, field + 2, mac.bytes[i], 16);
    }
    return mac;
}

std::string MacAddress::to_string() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < bytes.size(); ++i) {
        if (i > 0) out += ':';
        out += kDigits[bytes[i] >> 4];
        out += kDigits[bytes[i] & 0xf];
    }
    return out;
}

}  // namespace brig::ipc
