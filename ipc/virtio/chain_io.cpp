#include "ipc/virtio/chain_io.h"

#include <algorithm>
#include <cstring>

namespace brig::virtio {
namespace {

std::span<uint8_t> host(const GuestMemoryView& memory, uint64_t addr, uint64_t len) {
    auto s = memory.slice(addr, len);
    if (!s) throw QueueError("buffer outside guest memory");
    return *s;
}

// Calls fn(host span) for each piece of bytes [offset, offset + len); returns the bytes visited.
template <typename Fn>
uint64_t for_each_piece(const GuestMemoryView& memory, const std::vector<Buffer>& buffers, uint64_t offset,
                        uint64_t len, Fn&& fn) {
    uint64_t done = 0;
    for (const auto& b : buffers) {
        if (done == len) break;
        if (offset >= b.len) {
            offset -= b.len;
            continue;
        }
        const uint64_t take = std::min<uint64_t>(b.len - offset, len - done);
        if (take > 0) fn(host(memory, b.addr + offset, take));
        offset = 0;
        done += take;
    }
    return done;
}

}  // namespace

size_t copy_from_buffers(const GuestMemoryView& memory, const std::vector<Buffer>& buffers, uint64_t offset,
                         std::span<uint8_t> out) {
    size_t at = 0;
    return for_each_piece(memory, buffers, offset, out.size(), [&](std::span<uint8_t> piece) {
        std::memcpy(out.data() + at, piece.data(), piece.size());
        at += piece.size();
    });
}

size_t copy_to_buffers(const GuestMemoryView& memory, const std::vector<Buffer>& buffers, uint64_t offset,
                       std::span<const uint8_t> in) {
    size_t at = 0;
    return for_each_piece(memory, buffers, offset, in.size(), [&](std::span<uint8_t> piece) {
        std::memcpy(piece.data(), in.data() + at, piece.size());
        at += piece.size();
    });
}

std::vector<iovec> buffer_iovecs(const GuestMemoryView& memory, const std::vector<Buffer>& buffers, uint64_t offset,
                                 uint64_t len) {
    std::vector<iovec> iov;
    const uint64_t got = for_each_piece(memory, buffers, offset, len, [&](std::span<uint8_t> piece) {
        iov.push_back({piece.data(), piece.size()});
    });
    if (got != len) throw QueueError("chain shorter than its request");
    return iov;
}

}  // namespace brig::virtio
