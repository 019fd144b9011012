// An address space (port I/O or MMIO) mapping ranges to devices. Built once before
// the vCPUs start and read-only afterwards, so lookups need no lock.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ipc/bus_device.h"

namespace brig {

class Bus {
public:
    explicit Bus(std::string name) : name_(std::move(name)) {}

    // Throws HostError when [base, base+size) is empty, wraps, or overlaps a range.
    void insert(std::shared_ptr<BusDevice> device, uint64_t base, uint64_t size);

    // Returns false when no device claims `addr`; the caller decides what an
    // unclaimed access means (reads of nothing return all ones).
    bool read(uint64_t addr, std::span<uint8_t> data) const;
    bool write(uint64_t addr, std::span<const uint8_t> data) const;

    const std::string& name() const { return name_; }

private:
    struct Range {
        uint64_t base;
        uint64_t size;
        std::shared_ptr<BusDevice> device;
    };
    const Range* find(uint64_t addr, uint64_t len) const;

    std::string name_;
    std::vector<Range> ranges_;  // sorted by base
};

}  // namespace brig
