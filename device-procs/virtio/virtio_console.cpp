#include "device-procs/virtio/virtio_console.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "ipc/virtio/chain_io.h"

namespace brig::devices {

std::unique_ptr<HostedVirtioDevice> VirtioConsole::create(const std::string& name, Resources& resources) {
    base::UniqueFd output = take_resource(resources, std::string(ipc::resource::kOutput), false);
    base::UniqueFd input = take_resource(resources, std::string(ipc::resource::kInput), false);
    return std::make_unique<VirtioConsole>(std::move(output), std::move(input), name);
}

VirtioConsole::VirtioConsole(base::UniqueFd output, base::UniqueFd input, const std::string& device)
    : log_(device), output_(std::move(output)), input_(std::move(input)), input_open_(input_.valid()) {
    if (output_) output_buffer_ = std::make_unique<BufferedOutput>(output_.get());
}

void VirtioConsole::read_config(uint32_t offset, std::span<uint8_t> data) {
    uint8_t config[kConfigSize] = {};
    const uint32_t max_nr_ports = 1;
    std::memcpy(config + 4, &max_nr_ports, sizeof max_nr_ports);
    virtio::read_config_bytes(config, offset, data);
}

void VirtioConsole::process_queue(unsigned queue, virtio::QueueContext& ctx) {
    if (queue >= ctx.queues.size()) return;
    if (queue == kTransmitQueue) transmit(ctx);
    if (queue == kReceiveQueue) receive(ctx);
}

void VirtioConsole::write_output(const uint8_t* data, size_t len) {
    if (output_buffer_) output_buffer_->write(std::span(data, len));  // none: a sink
}

void VirtioConsole::transmit(virtio::QueueContext& ctx) {
    virtio::serve_available(ctx, kTransmitQueue, [&](const virtio::DescriptorChain& chain) {
        for (const auto& piece : virtio::buffer_iovecs(ctx.memory, chain.readable, 0, chain.readable_bytes()))
            write_output(static_cast<const uint8_t*>(piece.iov_base), piece.iov_len);
        return uint32_t{0};
    });
}

void VirtioConsole::receive(virtio::QueueContext& ctx) {
    std::lock_guard lock(mutex_);
    virtio::UsedBatch batch(ctx, kReceiveQueue);
    while (!pending_.empty()) {
        auto chain = batch.queue().pop();
        if (!chain) break;  // no buffer: keep the bytes for the next notify
        const size_t n = virtio::copy_to_buffers(ctx.memory, chain->writable, 0, pending_);
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
        batch.complete(chain->head, static_cast<uint32_t>(n));
    }
}

int VirtioConsole::input_fd() const { return input_.get(); }

bool VirtioConsole::wants_input() const {
    std::lock_guard lock(mutex_);
    return input_open_ && pending_.empty();
}

void VirtioConsole::pull_input() {
    std::lock_guard lock(mutex_);
    if (!input_open_ || !pending_.empty()) return;
    // Only what is there now: the fd may be blocking (a terminal).
    pollfd p{input_.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) != 1) return;
    uint8_t buf[kInputChunk];
    const ssize_t n = (p.revents & POLLIN) ? ::read(input_.get(), buf, sizeof buf) : 0;
    if (n > 0) {
        pending_.assign(buf, buf + n);
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        input_open_ = false;  // end of input (or a broken fd): stop watching it
    }
}

void VirtioConsole::flush() {
    if (!output_buffer_) return;
    if (!output_buffer_->drain(BufferedOutput::kDrainOnDestroy))
        log_.warn("console output: the reader did not take the last bytes");
    if (const uint64_t lost = output_buffer_->dropped())
        log_.warn("console output: {} bytes dropped while the reader was not keeping up", lost);
    // Durable when it is a file (a pipe or terminal says EINVAL).
    ::fdatasync(output_.get());
}

}  // namespace brig::devices
