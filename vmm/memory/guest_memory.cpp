#include "vmm/memory/guest_memory.h"

#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.h"
#include "vmm/error.h"
#include "vmm/memory/layout.h"

namespace brig {

namespace {

constexpr uint64_t kHugePage = 2 * layout::MiB;

// /proc/meminfo's "HugePages_Free", for the error that says what is missing.
std::optional<uint64_t> free_huge_pages() {
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    constexpr std::string_view kField = "HugePages_Free:";
    while (std::getline(meminfo, line))
        if (line.rfind(kField, 0) == 0) return std::strtoull(line.c_str() + kField.size(), nullptr, 10);
    return std::nullopt;
}

[[noreturn]] void no_huge_pages(uint64_t size, int err) {
    const uint64_t needed = size / kHugePage;
    const auto free = free_huge_pages();
    throw InvalidArgument("--hugepages: the guest's " + std::to_string(size / layout::MiB) + " MiB need " +
                          std::to_string(needed) + " free 2 MiB huge pages, the host has " +
                          (free ? std::to_string(*free) : std::string("none")) + " (" + std::strerror(err) +
                          "; reserve them with /proc/sys/vm/nr_hugepages)");
}

}  // namespace

GuestMemory GuestMemory::create(uint64_t size, Pages pages) {
    if (size < 16 * layout::MiB) throw InvalidArgument("--mem: at least 16 MiB of guest memory is needed");
    if (size % (2 * layout::MiB) != 0) throw InvalidArgument("--mem: must be a multiple of 2 MiB");
    const bool huge = pages == Pages::Huge2MiB;

    // A huge-page memfd is still a memfd: sealed, and mapped by the devices as any other.
    base::UniqueFd memfd(
        memfd_create("brig-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING | (huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0u)));
    if (!memfd && huge) no_huge_pages(size, errno);
    if (!memfd) base::throw_errno("memfd_create(guest ram)");
    if (ftruncate(memfd.get(), static_cast<off_t>(size)) != 0) base::throw_errno("ftruncate(guest ram)");
    // A device process maps this memfd; sealing stops anyone shrinking it under the VMM
    // (SIGBUS on access) or growing it behind KVM's back.
    if (fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        base::throw_errno("fcntl(F_ADD_SEALS, guest ram)");

    // Normal pages are allocated as the guest touches them. Huge pages are reserved by
    // this mapping (no MAP_NORESERVE), all of them, or it fails with ENOMEM.
    void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | (huge ? 0 : MAP_NORESERVE), memfd.get(), 0);
    if (map == MAP_FAILED && huge) no_huge_pages(size, errno);
    if (map == MAP_FAILED) base::throw_errno("mmap(guest ram)");
    auto* host = static_cast<uint8_t*>(map);
    madvise(map, size, MADV_DONTDUMP);  // guest secrets stay out of core dumps

    const ipc::GuestRamMap layout_map(size);
    std::vector<MemoryRegion> regions;
    for (const auto& r : layout_map.regions()) regions.push_back({r.guest_addr, r.size, r.offset, host + r.offset});
    return GuestMemory(std::move(memfd), layout_map, host, std::move(regions));
}

GuestMemory::GuestMemory(base::UniqueFd memfd, ipc::GuestRamMap map, uint8_t* mapping,
                         std::vector<MemoryRegion> regions)
    : memfd_(std::move(memfd)), map_(map), mapping_(mapping), regions_(std::move(regions)) {}

GuestMemory::GuestMemory(GuestMemory&& other) noexcept
    : memfd_(std::move(other.memfd_)),
      map_(std::exchange(other.map_, ipc::GuestRamMap::flat(0))),
      mapping_(std::exchange(other.mapping_, nullptr)),
      regions_(std::move(other.regions_)) {}

GuestMemory::~GuestMemory() {
    if (mapping_) munmap(mapping_, map_.size());
}

uint64_t GuestMemory::low_ram_end() const { return regions_.front().size; }

bool GuestMemory::contains(uint64_t addr, uint64_t len) const { return map_.offset_of(addr, len).has_value(); }

std::span<uint8_t> GuestMemory::slice(uint64_t addr, uint64_t len) const {
    if (auto off = map_.offset_of(addr, len)) return {mapping_ + *off, len};
    throw std::out_of_range("guest range [" + std::to_string(addr) + ", +" + std::to_string(len) +
                            ") is outside guest memory");
}

void GuestMemory::write(uint64_t addr, std::span<const uint8_t> bytes) const {
    auto dst = slice(addr, bytes.size());
    std::memcpy(dst.data(), bytes.data(), bytes.size());
}

void GuestMemory::read(uint64_t addr, std::span<uint8_t> bytes) const {
    auto src = slice(addr, bytes.size());
    std::memcpy(bytes.data(), src.data(), bytes.size());
}

}  // namespace brig
