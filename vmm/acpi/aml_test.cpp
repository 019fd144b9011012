#include "vmm/acpi/aml.h"

#include <catch2/catch.hpp>

#include "vmm/error.h"

using namespace brig;
using namespace brig::acpi;
using aml::Bytes;
namespace res = aml::resource;

// Expected encodings below are worked out by hand from ACPI 6.5 chapter 20 and
// section 6.4; the DSDT test in acpi_iasl_test.cpp cross-checks them against iasl.

TEST_CASE("PkgLength uses one byte up to 63 and counts its own bytes", "[acpi][aml]") {
    CHECK(aml::pkg_length(0) == Bytes{0x01});
    CHECK(aml::pkg_length(62) == Bytes{0x3f});
    // 63 payload bytes + 2 length bytes = 65 = 0x41: low nibble 1 in the lead byte.
    CHECK(aml::pkg_length(63) == Bytes{0x41, 0x04});
    // 4093 + 2 = 4095 is the largest two-byte value.
    CHECK(aml::pkg_length(4093) == Bytes{0x4f, 0xff});
    // 4094 + 2 = 4096 no longer fits in 12 bits, so three bytes: 4094 + 3 = 0x1001.
    CHECK(aml::pkg_length(4094) == Bytes{0x81, 0x00, 0x01});
    // Four bytes reach 28 bits.
    CHECK(aml::pkg_length((size_t{1} << 28) - 5) == Bytes{0xcf, 0xff, 0xff, 0xff});
    CHECK_THROWS_AS(aml::pkg_length((size_t{1} << 28) - 4), InvalidArgument);
}

TEST_CASE("integers use the shortest encoding", "[acpi][aml]") {
    CHECK(aml::integer(0) == Bytes{0x00});  // ZeroOp
    CHECK(aml::integer(1) == Bytes{0x01});  // OneOp
    CHECK(aml::integer(2) == Bytes{0x0a, 0x02});
    CHECK(aml::integer(0xff) == Bytes{0x0a, 0xff});
    CHECK(aml::integer(0x100) == Bytes{0x0b, 0x00, 0x01});
    CHECK(aml::integer(0xffff) == Bytes{0x0b, 0xff, 0xff});
    CHECK(aml::integer(0x10000) == Bytes{0x0c, 0x00, 0x00, 0x01, 0x00});
    CHECK(aml::integer(0xd0000000) == Bytes{0x0c, 0x00, 0x00, 0x00, 0xd0});
    CHECK(aml::integer(0x100000000) == Bytes{0x0e, 0, 0, 0, 0, 1, 0, 0, 0});
    CHECK(aml::integer(UINT64_MAX) == Bytes{0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
}

TEST_CASE("strings are NUL-terminated ASCII", "[acpi][aml]") {
    CHECK(aml::string("LNRO0005") == Bytes{0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00});
    CHECK(aml::string("") == Bytes{0x0d, 0x00});
    CHECK_THROWS_AS(aml::string(std::string_view("a\0b", 3)), InvalidArgument);
    CHECK_THROWS_AS(aml::string("caf\xc3\xa9"), InvalidArgument);
}

TEST_CASE("EISA ids compress to a DWord constant", "[acpi][aml]") {
    // PNP0501 is the well-known 0x0501D041 with its bytes in memory order.
    CHECK(aml::eisa_id("PNP0501") == Bytes{0x0c, 0x41, 0xd0, 0x05, 0x01});
    // Stays a DWord even when the value would fit a Word, or it stops being an EisaId.
    CHECK(aml::eisa_id("PNP0000") == Bytes{0x0c, 0x41, 0xd0, 0x00, 0x00});
    CHECK(aml::eisa_id("ABC00FF") == Bytes{0x0c, 0x04, 0x43, 0x00, 0xff});
    CHECK_THROWS_AS(aml::eisa_id("pnp0501"), InvalidArgument);
    CHECK_THROWS_AS(aml::eisa_id("PNP050"), InvalidArgument);
    CHECK_THROWS_AS(aml::eisa_id("PNP050G"), InvalidArgument);
    CHECK_THROWS_AS(aml::eisa_id("PNP05011"), InvalidArgument);
}

TEST_CASE("name segments are four characters, padded with underscores", "[acpi][aml]") {
    CHECK(aml::name_seg("COM1") == Bytes{'C', 'O', 'M', '1'});
    CHECK(aml::name_seg("_S5") == Bytes{'_', 'S', '5', '_'});
    CHECK(aml::name_seg("A") == Bytes{'A', '_', '_', '_'});
    CHECK_THROWS_AS(aml::name_seg(""), InvalidArgument);
    CHECK_THROWS_AS(aml::name_seg("1ABC"), InvalidArgument);
    CHECK_THROWS_AS(aml::name_seg("ABCDE"), InvalidArgument);
    CHECK_THROWS_AS(aml::name_seg("com1"), InvalidArgument);
}

TEST_CASE("name strings pick the right prefix for their segment count", "[acpi][aml]") {
    CHECK(aml::name_string("_HID") == Bytes{'_', 'H', 'I', 'D'});
    CHECK(aml::name_string("\\_SB_") == Bytes{'\\', '_', 'S', 'B', '_'});
    CHECK(aml::name_string("\\_SB_.COM1") == Bytes{'\\', 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'});
    CHECK(aml::name_string("\\_SB.PCI0.ISA") ==
          Bytes{'\\', 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'I', 'S', 'A', '_'});
    CHECK(aml::name_string("^^DEV") == Bytes{'^', '^', 'D', 'E', 'V', '_'});
    CHECK(aml::name_string("\\") == Bytes{'\\', 0x00});  // the root itself: NullName
    CHECK_THROWS_AS(aml::name_string(""), InvalidArgument);
    CHECK_THROWS_AS(aml::name_string("A..B"), InvalidArgument);
    CHECK_THROWS_AS(aml::name_string("\\_SB_."), InvalidArgument);
    CHECK_THROWS_AS(aml::name_string("\\^A"), InvalidArgument);
}

TEST_CASE("Name(_S5_, Package(){5, 0, 0, 0}) encodes as ASL compilers emit it", "[acpi][aml]") {
    const Bytes s5 =
        aml::name("_S5_", aml::package({aml::integer(5), aml::integer(0), aml::integer(0), aml::integer(0)}));
    CHECK(s5 == Bytes{0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00});
    CHECK_THROWS_AS(aml::package(std::vector<Bytes>(256, aml::integer(0))), InvalidArgument);
}

TEST_CASE("Scope and Device wrap their terms in a PkgLength", "[acpi][aml]") {
    const Bytes uid = aml::name("_UID", aml::integer(0));  // 6 bytes
    CHECK(aml::device("COM1", {uid}) == Bytes{0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I', 'D', 0x00});
    CHECK(aml::scope("\\_SB_", {}) == Bytes{0x10, 0x06, '\\', '_', 'S', 'B', '_'});

    // A body past 63 bytes switches to a two-byte PkgLength.
    const Bytes big = aml::scope("\\_SB_", std::vector<Bytes>(10, uid));  // 5 + 60 bytes
    REQUIRE(big.size() == 1 + 2 + 65);
    CHECK(big[1] == 0x43);  // 67 = 0x43: follow-byte count 1, low nibble 3
    CHECK(big[2] == 0x04);
}

TEST_CASE("resource descriptors match the ACPI section 6.4 layouts", "[acpi][aml]") {
    CHECK(res::io_decode16(0x3f8, 0x3f8, 1, 8) == Bytes{0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08});
    CHECK_THROWS_AS(res::io_decode16(0x400, 0x3f8, 1, 8), InvalidArgument);

    CHECK(res::irq_no_flags(4) == Bytes{0x22, 0x10, 0x00});
    CHECK(res::irq_no_flags(15) == Bytes{0x22, 0x00, 0x80});
    CHECK_THROWS_AS(res::irq_no_flags(16), InvalidArgument);

    CHECK(res::extended_interrupt(res::Trigger::Edge, res::Polarity::ActiveHigh, res::Sharing::Exclusive, 5) ==
          Bytes{0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00});
    CHECK(res::extended_interrupt(res::Trigger::Level, res::Polarity::ActiveLow, res::Sharing::Shared, 0x123) ==
          Bytes{0x89, 0x06, 0x00, 0x0d, 0x01, 0x23, 0x01, 0x00, 0x00});

    CHECK(res::memory32_fixed(res::Access::ReadWrite, 0xd0000000, 0x1000) ==
          Bytes{0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00});
    CHECK(res::memory32_fixed(res::Access::ReadOnly, 0xfffff000, 0x1000)[3] == 0x00);
    CHECK_THROWS_AS(res::memory32_fixed(res::Access::ReadWrite, 0xfffff000, 0x1001), InvalidArgument);
}

TEST_CASE("ResourceTemplate is a Buffer closed by an End Tag", "[acpi][aml]") {
    CHECK(aml::resource_template({res::irq_no_flags(4)}) ==
          Bytes{0x11, 0x08, 0x0a, 0x05, 0x22, 0x10, 0x00, 0x79, 0x00});
    CHECK(aml::resource_template({}) == Bytes{0x11, 0x05, 0x0a, 0x02, 0x79, 0x00});
}

TEST_CASE("methods, If, LEqual, ArgN and Notify", "[acpi][aml]") {
    // MethodOp, PkgLength (itself + NameSeg + flags = 6), "_EVT", one argument, not serialized.
    CHECK(aml::method("_EVT", 1, {}) == Bytes{0x14, 0x06, '_', 'E', 'V', 'T', 0x01});
    const Bytes predicate = aml::lequal(aml::arg(0), aml::integer(21));
    CHECK(predicate == Bytes{0x93, 0x68, 0x0a, 0x15});
    CHECK(aml::if_then(predicate, {}) == Bytes{0xa0, 0x05, 0x93, 0x68, 0x0a, 0x15});
    CHECK(aml::notify("PWRB", aml::integer(0x80)) == Bytes{0x86, 'P', 'W', 'R', 'B', 0x0a, 0x80});
    CHECK(aml::arg(6) == Bytes{0x6e});
    CHECK_THROWS_AS(aml::arg(7), InvalidArgument);
    CHECK_THROWS_AS(aml::method("_EVT", 8, {}), InvalidArgument);
}
