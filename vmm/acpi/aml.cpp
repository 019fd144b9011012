#include "vmm/acpi/aml.h"

#include <string>

#include "vmm/error.h"

namespace brig::acpi::aml {

namespace {

// Opcodes and prefixes, ACPI 6.5 section 20.3 (AML byte stream byte values).
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kQWordPrefix = 0x0e;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kMethodOp = 0x14;
constexpr uint8_t kArg0Op = 0x68;
constexpr uint8_t kNotifyOp = 0x86;
constexpr uint8_t kLEqualOp = 0x93;
constexpr uint8_t kIfOp = 0xa0;
constexpr unsigned kMaxMethodArgs = 7;
constexpr unsigned kMaxArg = 6;
constexpr uint8_t kDualNamePrefix = 0x2e;
constexpr uint8_t kMultiNamePrefix = 0x2f;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;  // follows kExtOpPrefix
constexpr uint8_t kRootChar = '\\';
constexpr uint8_t kParentPrefixChar = '^';
constexpr uint8_t kNullName = 0x00;
constexpr uint8_t kNullChar = 0x00;

constexpr size_t kNameSegSize = 4;
constexpr size_t kMaxPackageElements = 255;
constexpr size_t kMaxMultiNameSegs = 255;

// PkgLength: the top two bits of the lead byte count the follow bytes. With no
// follow bytes the lead byte holds 6 bits of length; otherwise it holds the low
// nibble and each follow byte the next 8 bits, so 4 bytes reach 28 bits.
constexpr size_t kPkgLengthMaxBytes = 4;
constexpr size_t kPkgLengthOneByteMax = 0x3f;

// Resource descriptor tags and sizes, ACPI 6.5 section 6.4.
constexpr uint8_t kSmallIrqTagNoFlags = 0x22;  // IRQ descriptor, length 2
constexpr uint8_t kSmallIoPortTag = 0x47;      // I/O port descriptor, length 7
constexpr uint8_t kSmallEndTag = 0x79;         // End Tag, length 1
constexpr uint8_t kLargeMemory32FixedTag = 0x86;
constexpr uint8_t kLargeExtendedInterruptTag = 0x89;
constexpr uint16_t kMemory32FixedBodyLength = 9;
constexpr uint16_t kExtendedInterruptOneGsiBodyLength = 6;
constexpr uint8_t kIoDecode16 = 0x01;
constexpr uint8_t kMemoryReadWrite = 0x01;
constexpr uint8_t kIsaIrqCount = 16;
// Extended Interrupt flags byte.
constexpr uint8_t kIntFlagConsumer = 1u << 0;
constexpr uint8_t kIntFlagEdge = 1u << 1;
constexpr uint8_t kIntFlagActiveLow = 1u << 2;
constexpr uint8_t kIntFlagShared = 1u << 3;

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

void append_le(Bytes& out, uint64_t value, size_t width) {
    for (size_t i = 0; i < width; ++i) {
        out.push_back(static_cast<uint8_t>(value >> (8 * i)));
    }
}

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

bool is_lead_name_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_lead_name_char(c) || (c >= '0' && c <= '9'); }

// opcode(s) PkgLength body
Bytes with_pkg_length(std::initializer_list<uint8_t> opcode, const Bytes& body) {
    Bytes out(opcode);
    append(out, pkg_length(body.size()));
    append(out, body);
    return out;
}

Bytes named_container(std::initializer_list<uint8_t> opcode, std::string_view path, const std::vector<Bytes>& terms) {
    Bytes body = name_string(path);
    for (const Bytes& term : terms) {
        append(body, term);
    }
    return with_pkg_length(opcode, body);
}

}  // namespace

Bytes pkg_length(size_t payload_len) {
    if (payload_len + 1 <= kPkgLengthOneByteMax) {
        return {static_cast<uint8_t>(payload_len + 1)};
    }
    for (size_t follow = 1; follow < kPkgLengthMaxBytes; ++follow) {
        const size_t total = payload_len + 1 + follow;
        if (total < (size_t{1} << (4 + 8 * follow))) {
            Bytes out{static_cast<uint8_t>((follow << 6) | (total & 0x0f))};
            append_le(out, total >> 4, follow);
            return out;
        }
    }
    throw InvalidArgument("AML package of " + std::to_string(payload_len) +
                          " bytes exceeds the 28-bit PkgLength limit");
}

Bytes integer(uint64_t value) {
    if (value == 0) return {kZeroOp};
    if (value == 1) return {kOneOp};
    Bytes out;
    if (value <= UINT8_MAX) {
        out.push_back(kBytePrefix);
        append_le(out, value, 1);
    } else if (value <= UINT16_MAX) {
        out.push_back(kWordPrefix);
        append_le(out, value, 2);
    } else if (value <= UINT32_MAX) {
        out.push_back(kDWordPrefix);
        append_le(out, value, 4);
    } else {
        out.push_back(kQWordPrefix);
        append_le(out, value, 8);
    }
    return out;
}

Bytes string(std::string_view text) {
    Bytes out{kStringPrefix};
    for (char c : text) {
        const auto byte = static_cast<uint8_t>(c);
        if (byte == 0 || byte > 0x7f) {
            throw InvalidArgument("AML string " + quoted(text) + " must be ASCII without NUL");
        }
        out.push_back(byte);
    }
    out.push_back(kNullChar);
    return out;
}

Bytes eisa_id(std::string_view id) {
    // Three uppercase letters, then four uppercase hex digits.
    auto is_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
    bool valid = id.size() == 7;
    for (size_t i = 0; valid && i < 3; ++i) valid = id[i] >= 'A' && id[i] <= 'Z';
    for (size_t i = 3; valid && i < 7; ++i) valid = is_hex(id[i]);
    if (!valid) {
        throw InvalidArgument("EISA id " + quoted(id) + " is not three letters A-Z and four hex digits");
    }
    // Letters are 5 bits each ('A' == 1), packed big-endian with the product number.
    auto letter = [](char c) { return static_cast<uint32_t>(c - 'A' + 1); };
    const uint32_t vendor = (letter(id[0]) << 10) | (letter(id[1]) << 5) | letter(id[2]);
    const auto product = static_cast<uint32_t>(std::stoul(std::string(id.substr(3)), nullptr, 16));
    return {kDWordPrefix, static_cast<uint8_t>(vendor >> 8), static_cast<uint8_t>(vendor),
            static_cast<uint8_t>(product >> 8), static_cast<uint8_t>(product)};
}

Bytes name_seg(std::string_view seg) {
    bool valid = !seg.empty() && seg.size() <= kNameSegSize && is_lead_name_char(seg[0]);
    for (size_t i = 1; valid && i < seg.size(); ++i) valid = is_name_char(seg[i]);
    if (!valid) {
        throw InvalidArgument("AML name segment " + quoted(seg) +
                              " must be 1-4 characters of A-Z, 0-9, _ not starting with a digit");
    }
    Bytes out(seg.begin(), seg.end());
    out.resize(kNameSegSize, '_');
    return out;
}

Bytes name_string(std::string_view path) {
    Bytes out;
    std::string_view rest = path;
    if (!rest.empty() && rest.front() == kRootChar) {
        out.push_back(kRootChar);
        rest.remove_prefix(1);
    } else {
        while (!rest.empty() && rest.front() == kParentPrefixChar) {
            out.push_back(kParentPrefixChar);
            rest.remove_prefix(1);
        }
    }

    std::vector<std::string_view> segs;
    while (!rest.empty()) {
        const size_t dot = rest.find('.');
        segs.push_back(rest.substr(0, dot));
        rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
        if (dot != std::string_view::npos && rest.empty()) {
            throw InvalidArgument("AML name path " + quoted(path) + " ends with '.'");
        }
    }

    if (segs.empty()) {
        if (out.empty()) throw InvalidArgument("AML name path must not be empty");
        out.push_back(kNullName);
    } else if (segs.size() == 2) {
        out.push_back(kDualNamePrefix);
    } else if (segs.size() > 2) {
        if (segs.size() > kMaxMultiNameSegs) {
            throw InvalidArgument("AML name path " + quoted(path) + " has too many segments");
        }
        out.push_back(kMultiNamePrefix);
        out.push_back(static_cast<uint8_t>(segs.size()));
    }
    for (std::string_view seg : segs) {
        append(out, name_seg(seg));
    }
    return out;
}

Bytes name(std::string_view path, const Bytes& object) {
    Bytes out{kNameOp};
    append(out, name_string(path));
    append(out, object);
    return out;
}

Bytes scope(std::string_view path, const std::vector<Bytes>& terms) { return named_container({kScopeOp}, path, terms); }

Bytes device(std::string_view path, const std::vector<Bytes>& terms) {
    return named_container({kExtOpPrefix, kDeviceOp}, path, terms);
}

Bytes method(std::string_view path, unsigned arg_count, const std::vector<Bytes>& terms) {
    if (arg_count > kMaxMethodArgs)
        throw InvalidArgument("AML method with " + std::to_string(arg_count) + " arguments");
    Bytes body = name_string(path);
    body.push_back(static_cast<uint8_t>(arg_count));  // MethodFlags: NotSerialized, SyncLevel 0
    for (const Bytes& term : terms) append(body, term);
    return with_pkg_length({kMethodOp}, body);
}

Bytes if_then(const Bytes& predicate, const std::vector<Bytes>& terms) {
    Bytes body = predicate;
    for (const Bytes& term : terms) append(body, term);
    return with_pkg_length({kIfOp}, body);
}

Bytes lequal(const Bytes& a, const Bytes& b) {
    Bytes out{kLEqualOp};
    append(out, a);
    append(out, b);
    return out;
}

Bytes arg(unsigned n) {
    if (n > kMaxArg) throw InvalidArgument("AML Arg" + std::to_string(n) + " does not exist");
    return {static_cast<uint8_t>(kArg0Op + n)};
}

Bytes notify(std::string_view path, const Bytes& value) {
    Bytes out{kNotifyOp};
    append(out, name_string(path));
    append(out, value);
    return out;
}

Bytes package(const std::vector<Bytes>& elements) {
    if (elements.size() > kMaxPackageElements) {
        throw InvalidArgument("AML package has " + std::to_string(elements.size()) +
                              " elements, at most 255 fit NumElements");
    }
    Bytes body{static_cast<uint8_t>(elements.size())};
    for (const Bytes& element : elements) {
        append(body, element);
    }
    return with_pkg_length({kPackageOp}, body);
}

Bytes buffer(const Bytes& data) {
    Bytes body = integer(data.size());
    append(body, data);
    return with_pkg_length({kBufferOp}, body);
}

Bytes resource_template(const std::vector<Bytes>& descriptors) {
    Bytes data;
    for (const Bytes& descriptor : descriptors) {
        append(data, descriptor);
    }
    data.push_back(kSmallEndTag);
    data.push_back(0);  // checksum 0: "the resource data is treated as if the checksum succeeded"
    return buffer(data);
}

namespace resource {

Bytes io_decode16(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
    if (min > max) {
        throw InvalidArgument("IO descriptor minimum " + std::to_string(min) + " exceeds maximum " +
                              std::to_string(max));
    }
    Bytes out{kSmallIoPortTag, kIoDecode16};
    append_le(out, min, 2);
    append_le(out, max, 2);
    out.push_back(alignment);
    out.push_back(length);
    return out;
}

Bytes irq_no_flags(uint8_t irq) {
    if (irq >= kIsaIrqCount) {
        throw InvalidArgument("IRQNoFlags descriptor cannot hold IRQ " + std::to_string(irq) + " (ISA IRQs are 0-15)");
    }
    Bytes out{kSmallIrqTagNoFlags};
    append_le(out, 1u << irq, 2);  // a bit mask of IRQs
    return out;
}

Bytes extended_interrupt(Trigger trigger, Polarity polarity, Sharing sharing, uint32_t gsi) {
    uint8_t flags = kIntFlagConsumer;
    if (trigger == Trigger::Edge) flags |= kIntFlagEdge;
    if (polarity == Polarity::ActiveLow) flags |= kIntFlagActiveLow;
    if (sharing == Sharing::Shared) flags |= kIntFlagShared;
    Bytes out{kLargeExtendedInterruptTag};
    append_le(out, kExtendedInterruptOneGsiBodyLength, 2);
    out.push_back(flags);
    out.push_back(1);  // interrupt table length: one GSI
    append_le(out, gsi, 4);
    return out;
}

Bytes memory32_fixed(Access access, uint32_t base, uint32_t length) {
    if (length != 0 && base > UINT32_MAX - (length - 1)) {
        throw InvalidArgument("Memory32Fixed range at " + std::to_string(base) + " of " + std::to_string(length) +
                              " bytes wraps past 4 GiB");
    }
    Bytes out{kLargeMemory32FixedTag};
    append_le(out, kMemory32FixedBodyLength, 2);
    out.push_back(access == Access::ReadWrite ? kMemoryReadWrite : 0);
    append_le(out, base, 4);
    append_le(out, length, 4);
    return out;
}

}  // namespace resource

}  // namespace brig::acpi::aml
