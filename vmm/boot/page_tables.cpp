#include "vmm/boot/page_tables.h"

#include <array>

#include "vmm/memory/layout.h"

namespace brig::boot {

namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kEntriesPerTable = 512;
constexpr uint64_t kLargePageSize = 2 * layout::MiB;
constexpr uint64_t kPageDirCount = 4;  // each maps 1 GiB

constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kWritable = 1ull << 1;
constexpr uint64_t kLargePage = 1ull << 7;  // PS: this PDE maps 2 MiB directly

using PageTable = std::array<uint64_t, kEntriesPerTable>;

static_assert(kPageDirCount * kEntriesPerTable * kLargePageSize == 4 * layout::GiB);
static_assert(layout::kPdpt >= layout::kPml4 + kPageSize && layout::kPageDirs >= layout::kPdpt + kPageSize);

}  // namespace

uint64_t write_identity_page_tables(const GuestMemory& mem) {
    PageTable pml4{};
    pml4[0] = layout::kPdpt | kPresent | kWritable;
    mem.write_obj(layout::kPml4, pml4);

    PageTable pdpt{};
    for (uint64_t dir = 0; dir < kPageDirCount; ++dir) {
        const uint64_t dir_addr = layout::kPageDirs + dir * kPageSize;
        pdpt[dir] = dir_addr | kPresent | kWritable;

        PageTable pd{};
        for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
            pd[i] = ((dir * kEntriesPerTable + i) * kLargePageSize) | kPresent | kWritable | kLargePage;
        }
        mem.write_obj(dir_addr, pd);
    }
    mem.write_obj(layout::kPdpt, pdpt);
    return layout::kPml4;
}

}  // namespace brig::boot
