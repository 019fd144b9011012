// A deliberately tiny AML (ACPI Machine Language) encoder: only the terms brig's
// DSDT needs, each producing the exact bytes of ACPI 6.5 chapter 20. Objects are
// plain byte vectors so a reviewer can compare every function against the grammar
// without chasing a class hierarchy. Invalid input (a malformed name, a value that
// a descriptor cannot hold) throws InvalidArgument rather than emitting AML the
// guest would misparse.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace brig::acpi::aml {

using Bytes = std::vector<uint8_t>;

// PkgLength (20.2.4) for `payload_len` bytes that follow it. The encoded value
// counts the PkgLength bytes themselves, which is why it is not simply a prefix.
Bytes pkg_length(size_t payload_len);

// Integer constant in its shortest form: ZeroOp, OneOp, or Byte/Word/DWord/QWordPrefix.
Bytes integer(uint64_t value);
// String constant: StringPrefix, ASCII characters 0x01..0x7f, NullChar.
Bytes string(std::string_view text);
// A compressed EISA id ("PNP0501"), as ASL's EisaId(): always a DWordPrefix constant,
// because OSPMs and disassemblers tell an EISA id from a plain number by its width.
Bytes eisa_id(std::string_view id);

// One NameSeg: 1..4 characters from [A-Z0-9_], not starting with a digit, padded
// with '_' to four characters exactly as ASL does ("_S5" == "_S5_").
Bytes name_seg(std::string_view seg);
// A NameString: optional '\' (root) or '^' (parent) prefixes, then dot-separated
// NameSegs, e.g. "\\_SB_.COM1". Uses NullName, DualNamePrefix or MultiNamePrefix.
Bytes name_string(std::string_view path);

// Name (path, object)
Bytes name(std::string_view path, const Bytes& object);
// Scope (path) { terms }
Bytes scope(std::string_view path, const std::vector<Bytes>& terms);
// Device (path) { terms }
Bytes device(std::string_view path, const std::vector<Bytes>& terms);
// Package () { elements }, at most 255 elements (NumElements is one byte).
Bytes package(const std::vector<Bytes>& elements);
// Buffer () { data }
Bytes buffer(const Bytes& data);

// Method (path, arg_count, NotSerialized) { terms }; arg_count 0..7.
Bytes method(std::string_view path, unsigned arg_count, const std::vector<Bytes>& terms);
// If (predicate) { terms }
Bytes if_then(const Bytes& predicate, const std::vector<Bytes>& terms);
// LEqual (a, b)
Bytes lequal(const Bytes& a, const Bytes& b);
// ArgN, N 0..6: the method's Nth argument.
Bytes arg(unsigned n);
// Notify (path, value)
Bytes notify(std::string_view path, const Bytes& value);

// ResourceTemplate () { descriptors }: a Buffer of resource descriptors closed by an
// End Tag. The End Tag checksum is 0, which the spec defines as "treat as valid".
Bytes resource_template(const std::vector<Bytes>& descriptors);

// Resource descriptors (ACPI 6.5 section 6.4) for use inside resource_template().
namespace resource {

enum class Trigger : uint8_t { Level, Edge };
enum class Polarity : uint8_t { ActiveHigh, ActiveLow };
enum class Sharing : uint8_t { Exclusive, Shared };
enum class Access : uint8_t { ReadOnly, ReadWrite };

// IO (Decode16, min, max, alignment, length)
Bytes io_decode16(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);
// IRQNoFlags () { irq }: an ISA IRQ (0..15), edge, active high, exclusive.
Bytes irq_no_flags(uint8_t irq);
// Interrupt (ResourceConsumer, trigger, polarity, sharing) { gsi }
Bytes extended_interrupt(Trigger trigger, Polarity polarity, Sharing sharing, uint32_t gsi);
// Memory32Fixed (access, base, length); the range must not wrap past 4 GiB.
Bytes memory32_fixed(Access access, uint32_t base, uint32_t length);

}  // namespace resource

}  // namespace brig::acpi::aml
