// DSDT: the devices the guest cannot discover by probing. Everything else on the
// board (APICs, PM registers) is described by the MADT and FADT.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "vmm/acpi/aml.h"
#include "vmm/acpi/table_formats.h"
#include "vmm/acpi/tables.h"
#include "vmm/memory/layout.h"

namespace brig::acpi::detail {

namespace aml = brig::acpi::aml;
namespace res = brig::acpi::aml::resource;

namespace {

// COM<num> (1..4) at its standard port and IRQ; _UID num-1, so Linux names it ttyS<num-1>.
Bytes com_device(unsigned num) {
    const layout::ComPort& com = layout::kComPorts.at(num - 1);
    return aml::device("COM" + std::to_string(num),
                       {
                           aml::name("_HID", aml::eisa_id("PNP0501")),  // 16550A-compatible UART
                           aml::name("_UID", aml::integer(num - 1)),
                           aml::name("_CRS", aml::resource_template({
                                                 res::io_decode16(com.port, com.port, 1, layout::kComSize),
                                                 res::irq_no_flags(com.irq),
                                             })),
                       });
}

// Linux's pvpanic driver binds QEMU0001 and takes its port from _CRS.
Bytes pvpanic_device() {
    return aml::device("PEVT",
                       {
                           aml::name("_HID", aml::string("QEMU0001")),
                           aml::name("_CRS", aml::resource_template({
                                                 res::io_decode16(layout::kPvpanicPort, layout::kPvpanicPort, 1, 1),
                                             })),
                       });
}

// Hardware-reduced ACPI has no fixed power button: a Generic Event Device raises its
// interrupt, the OS calls its _EVT with the GSI, and _EVT notifies the power button
// device (0x80: "pressed"), as in QEMU microvm. Linux's acpi-ged driver does this.
std::vector<Bytes> power_button_devices(uint32_t gsi) {
    return {
        aml::device("PWRB", {aml::name("_HID", aml::eisa_id("PNP0C0C")), aml::name("_UID", aml::integer(0))}),
        aml::device("GED0",
                    {
                        aml::name("_HID", aml::string("ACPI0013")),
                        aml::name("_UID", aml::integer(0)),
                        aml::name("_CRS", aml::resource_template({
                                              res::extended_interrupt(res::Trigger::Edge, res::Polarity::ActiveHigh,
                                                                      res::Sharing::Exclusive, gsi),
                                          })),
                        aml::method("_EVT", 1,
                                    {aml::if_then(aml::lequal(aml::arg(0), aml::integer(gsi)),
                                                  {aml::notify("\\_SB_.PWRB", aml::integer(0x80))})}),
                    }),
    };
}

// Linux binds LNRO0005 to virtio_mmio and takes the register window and interrupt
// from _CRS. Edge-triggered because brig injects virtio interrupts as edges
// (irqfd/KVM_IRQ_LINE pulses), the same choice as Firecracker and cloud-hypervisor.
Bytes virtio_mmio_device(unsigned index, const VirtioMmioEntry& entry) {
    constexpr unsigned kMaxNamedDevices = 1000;  // "V000".."V999" fill a NameSeg
    if (index >= kMaxNamedDevices) {
        throw std::logic_error("virtio-mmio device index " + std::to_string(index) +
                               " has no four-character ACPI name");
    }
    char device_name[8];
    std::snprintf(device_name, sizeof device_name, "V%03u", index);
    return aml::device(
        device_name,
        {
            aml::name("_HID", aml::string("LNRO0005")),
            aml::name("_UID", aml::integer(index)),
            aml::name("_CRS", aml::resource_template({
                                  res::memory32_fixed(res::Access::ReadWrite, static_cast<uint32_t>(entry.base),
                                                      static_cast<uint32_t>(entry.size)),
                                  res::extended_interrupt(res::Trigger::Edge, res::Polarity::ActiveHigh,
                                                          res::Sharing::Exclusive, entry.irq),
                              })),
        });
}

// \_S5 tells the OS which SLP_TYP to write to SLEEP_CONTROL_REG to power off.
Bytes s5_package() {
    return aml::name("_S5_", aml::package({
                                 aml::integer(layout::kAcpiS5SleepType),  // SLP_TYPa
                                 aml::integer(0),                         // SLP_TYPb (unused, hardware reduced)
                                 aml::integer(0),                         // reserved
                                 aml::integer(0),                         // reserved
                             }));
}

}  // namespace

Bytes build_dsdt(const AcpiConfig& config) {
    std::vector<Bytes> devices;
    if (config.com1) devices.push_back(com_device(1));
    for (unsigned num : config.serial_ports) devices.push_back(com_device(num));
    if (config.pvpanic) devices.push_back(pvpanic_device());
    if (config.power_button_gsi)
        for (auto& d : power_button_devices(*config.power_button_gsi)) devices.push_back(std::move(d));
    for (size_t i = 0; i < config.virtio_mmio.size(); ++i) {
        devices.push_back(virtio_mmio_device(static_cast<unsigned>(i), config.virtio_mmio[i]));
    }

    Bytes table(sizeof(format::SdtHeader));
    const Bytes system_bus = aml::scope("\\_SB_", devices);
    const Bytes s5 = s5_package();
    table.insert(table.end(), system_bus.begin(), system_bus.end());
    table.insert(table.end(), s5.begin(), s5.end());
    seal_table(table, "DSDT", format::kDsdtRevision);
    return table;
}

}  // namespace brig::acpi::detail
