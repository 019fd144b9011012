#include "device-procs/virtio/virtio_rng.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "base/error.h"
#include "device-procs/common/test_hooks.h"
#include "ipc/virtio/chain_io.h"

namespace brig::devices {

std::unique_ptr<HostedVirtioDevice> VirtioRng::create(const std::string&, Resources&) {
    return std::make_unique<VirtioRng>();
}

void VirtioRng::read_config(uint32_t offset, std::span<uint8_t> data) { virtio::read_config_bytes({}, offset, data); }

void VirtioRng::process_queue(unsigned queue, virtio::QueueContext& ctx) {
    if (queue != 0 || ctx.queues.empty()) return;
    virtio::serve_available(ctx, 0, [&](const virtio::DescriptorChain& chain) {
        test_hooks::on_rng_request(chain.writable_bytes());
        const auto iov = virtio::buffer_iovecs(ctx.memory, chain.writable, 0,
                                               std::min<uint64_t>(chain.writable_bytes(), kMaxBytesPerChain));
        uint32_t written = 0;
        for (const auto& piece : iov) {
            size_t done = 0;
            while (done < piece.iov_len) {
                const ssize_t n = ::getrandom(static_cast<uint8_t*>(piece.iov_base) + done, piece.iov_len - done, 0);
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) base::throw_errno("virtio-rng: getrandom");
                done += static_cast<size_t>(n);
            }
            written += static_cast<uint32_t>(done);
        }
        return written;
    });
}

}  // namespace brig::devices
