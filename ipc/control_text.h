// Text from an untrusted device (its control-path reports, its stderr) is cut down to
// one printable line before anything logs it.
#pragma once

#include <string>
#include <string_view>

namespace brig::ipc {

constexpr size_t kMaxReportChars = 200;

// Printable ASCII only (others become '?'), one line, at most kMaxReportChars
// characters plus "..." when cut.
inline std::string sanitize_report(std::string_view text) {
    std::string out;
    const size_t n = text.size() < kMaxReportChars ? text.size() : kMaxReportChars;
    out.reserve(n + 3);
    for (size_t i = 0; i < n; ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
    }
    if (text.size() > kMaxReportChars) out += "...";
    return out;
}

}  // namespace brig::ipc
