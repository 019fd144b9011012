// Target 7: the ACPI builder (vmm/acpi/) for any configuration, a superset of what
// the command line can produce (any vCPU count and APIC ids, COM ports, pvpanic, the
// power button, any virtio-mmio windows and IRQs). Either the configuration is
// refused with an InvalidArgument, or every table holds: inside the image and within
// layout::kAcpiTablesMax, its length field equal to its size, its checksum zero, the
// RSDP's two checksums zero, and every XSDT entry the address of a table in the image.
#include <cstring>
#include <string>

#include "vmm/acpi/acpi_tables.h"
#include "vmm/error.h"
#include "vmm/memory/layout.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"

using namespace brig;
using namespace brig::acpi;
using namespace brig::fuzz;

namespace {

uint8_t sum(const uint8_t* p, size_t n) {
    uint8_t s = 0;
    for (size_t i = 0; i < n; ++i) s = static_cast<uint8_t>(s + p[i]);
    return s;
}

template <typename T>
T field(const AcpiBlob& blob, uint64_t addr) {
    T v{};
    std::memcpy(&v, blob.bytes.data() + (addr - blob.base), sizeof v);
    return v;
}

AcpiConfig config_from(FuzzInput& in) {
    AcpiConfig c;
    c.num_cpus = in.flag() ? 1 + in.pick(8) : in.take<uint16_t>() % 300;
    c.com1 = in.flag();
    c.pvpanic = in.flag();
    if (in.flag()) c.power_button_gsi = in.flag() ? 5 + in.pick(20) : in.take<uint32_t>();
    if (in.flag()) {
        const unsigned n = in.flag() ? c.num_cpus : in.pick(16);
        for (unsigned i = 0; i < n; ++i)
            c.apic_ids.push_back(in.flag() ? i * (1 + in.pick(4)) : in.take<uint16_t>() % 300);
    }
    for (unsigned n = in.pick(6); n > 0; --n) c.serial_ports.push_back(in.pick(6));
    for (unsigned n = in.pick(40); n > 0; --n) {
        VirtioMmioEntry e;
        if (in.flag()) {  // in the usual window, as the builder places them
            const unsigned slot = in.pick(64);
            e = {0xd0000000ull + 0x1000ull * slot, 0x1000, 5 + slot};
        } else {
            e = {in.take<uint64_t>(), in.take<uint64_t>(), in.take<uint32_t>()};
        }
        c.virtio_mmio.push_back(e);
    }
    return c;
}

void check(const AcpiBlob& blob) {
    if (blob.bytes.size() > layout::kAcpiTablesMax) fail("tables larger than layout::kAcpiTablesMax");
    auto inside = [&](uint64_t addr, uint64_t len) {
        return addr >= blob.base && len <= blob.bytes.size() && addr - blob.base <= blob.bytes.size() - len;
    };
    bool have_xsdt = false;
    for (const auto& t : blob.tables) {
        if (!inside(t.guest_addr, t.length)) fail(t.signature + " lies outside the image");
        const uint8_t* p = blob.bytes.data() + (t.guest_addr - blob.base);
        if (t.signature == "RSDP") {
            if (t.length < 36 || sum(p, 20) != 0 || sum(p, 36) != 0) fail("RSDP checksum");
            if (t.guest_addr != blob.rsdp_addr) fail("RSDP not where rsdp_addr says");
            continue;
        }
        if (t.length < 36 || std::memcmp(p, t.signature.data(), 4) != 0) fail(t.signature + " header");
        if (field<uint32_t>(blob, t.guest_addr + 4) != t.length) fail(t.signature + " length field");
        if (sum(p, t.length) != 0) fail(t.signature + " checksum");
        if (t.signature == "XSDT") {
            have_xsdt = true;
            for (uint64_t at = t.guest_addr + 36; at + 8 <= t.guest_addr + t.length; at += 8) {
                const uint64_t target = field<uint64_t>(blob, at);
                bool found = false;
                for (const auto& u : blob.tables) found = found || (u.guest_addr == target && u.signature != "RSDP");
                if (!found) fail("an XSDT entry that is no table");
            }
        }
    }
    if (!have_xsdt) fail("no XSDT");
}

}  // namespace

BRIG_FUZZ_TARGET(acpi) {
    FuzzInput in(data, size);
    const AcpiConfig config = config_from(in);
    try {
        check(build_acpi_tables(config));
    } catch (const InvalidArgument&) {
        // A configuration the tables cannot describe: refused in one line.
    }
    return 0;
}
