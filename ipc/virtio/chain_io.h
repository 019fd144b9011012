// Byte-level access to the buffers of a validated descriptor chain: a chain's readable
// (or writable) buffers seen as one run of bytes that may be split anywhere. The
// addresses were checked by SplitQueue; a slice that still fails is a QueueError.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "ipc/virtio/guest_memory_view.h"
#include "ipc/virtio/virtqueue.h"

namespace brig::virtio {

// Copies bytes [offset, offset + out.size()) of `buffers` into `out`; returns how many
// there were (fewer when the buffers end first).
size_t copy_from_buffers(const GuestMemoryView& memory, const std::vector<Buffer>& buffers, uint64_t offset,
                         std::span<uint8_t> out);
// Copies `in` to bytes [offset, ...) of `buffers`; returns how many fitted.
size_t copy_to_buffers(const GuestMemoryView& memory, const std::vector<Buffer>& buffers, uint64_t offset,
                       std::span<const uint8_t> in);
// Host iovecs for bytes [offset, offset + len) of `buffers` (empty pieces left out);
// throws QueueError when the buffers hold fewer bytes.
std::vector<iovec> buffer_iovecs(const GuestMemoryView& memory, const std::vector<Buffer>& buffers, uint64_t offset,
                                 uint64_t len);

}  // namespace brig::virtio
