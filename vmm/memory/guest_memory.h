// Guest RAM: one memfd, sealed against shrinking, mapped MAP_SHARED so a device
// process can later map the very same pages. Every access from the VMM goes
// through a bounds-checked slice of the layout the devices use too
// (ipc/guest_ram_map.h); nothing here trusts a guest-supplied address.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "ipc/guest_ram_map.h"
#include "base/unique_fd.h"

namespace brig {

struct MemoryRegion {
    uint64_t guest_addr;
    uint64_t size;
    uint64_t memfd_offset;
    uint8_t* host;
};

class GuestMemory {
public:
    // Lays out `size` bytes of RAM below the 32-bit MMIO hole, the rest above 4 GiB.
    // Pages: the host's normal pages, or (--hugepages) 2 MiB huge pages, reserved in
    // full here so that a host without enough of them fails now, with exit 35, and
    // never later with a SIGBUS under a guest access.
    enum class Pages { Normal, Huge2MiB };
    static GuestMemory create(uint64_t size, Pages pages = Pages::Normal);

    GuestMemory(GuestMemory&&) noexcept;
    GuestMemory& operator=(GuestMemory&&) = delete;
    GuestMemory(const GuestMemory&) = delete;
    ~GuestMemory();

    std::span<const MemoryRegion> regions() const { return regions_; }
    int memfd() const { return memfd_.get(); }
    uint64_t size() const { return map_.size(); }
    // One past the last byte of RAM below 4 GiB.
    uint64_t low_ram_end() const;

    // True when [addr, addr+len) lies inside one region, with no overflow.
    bool contains(uint64_t addr, uint64_t len) const;
    // Host view of [addr, addr+len); throws std::out_of_range when not contained.
    std::span<uint8_t> slice(uint64_t addr, uint64_t len) const;

    void write(uint64_t addr, std::span<const uint8_t> bytes) const;
    void read(uint64_t addr, std::span<uint8_t> bytes) const;

    template <typename T>
    void write_obj(uint64_t addr, const T& obj) const {
        static_assert(std::is_trivially_copyable_v<T>);
        write(addr, std::span(reinterpret_cast<const uint8_t*>(&obj), sizeof obj));
    }
    template <typename T>
    T read_obj(uint64_t addr) const {
        static_assert(std::is_trivially_copyable_v<T>);
        T obj;
        read(addr, std::span(reinterpret_cast<uint8_t*>(&obj), sizeof obj));
        return obj;
    }

private:
    GuestMemory(base::UniqueFd memfd, ipc::GuestRamMap map, uint8_t* mapping, std::vector<MemoryRegion> regions);

    base::UniqueFd memfd_;
    ipc::GuestRamMap map_;
    uint8_t* mapping_ = nullptr;
    std::vector<MemoryRegion> regions_;
};

}  // namespace brig
