#include "device-procs/virtio/virtio_blk.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <vector>

#include "base/error.h"
#include "ipc/virtio/chain_io.h"

namespace brig::devices {

using virtio::DescriptorChain;
using virtio::GuestMemoryView;
using virtio::QueueError;

namespace {

constexpr uint32_t kHeaderBytes = 16;   // type u32, reserved u32, sector u64
constexpr uint32_t kSegmentBytes = 16;  // virtio_blk_discard_write_zeroes: sector u64, num_sectors u32, flags u32
constexpr uint32_t kFlagUnmap = 1;
constexpr int kPunchHole = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;  // 0x03: policies/virtio_blk_device.policy
constexpr int kZeroRange = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;  // 0x11

template <typename T>
T le_at(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// All of `iov` at `offset`, or false. Short transfers are resumed; a transfer that makes
// no progress (the file shrank under us) is an error.
bool full_io(bool write, int fd, std::vector<iovec> iov, uint64_t offset) {
    size_t next = 0;
    while (next < iov.size()) {
        const int count = static_cast<int>(std::min<size_t>(iov.size() - next, IOV_MAX));
        const ssize_t n = write ? ::pwritev(fd, &iov[next], count, static_cast<off_t>(offset))
                                : ::preadv(fd, &iov[next], count, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        offset += static_cast<uint64_t>(n);
        size_t left = static_cast<size_t>(n);
        while (left > 0) {
            if (left >= iov[next].iov_len) {
                left -= iov[next].iov_len;
                ++next;
            } else {
                iov[next].iov_base = static_cast<uint8_t*>(iov[next].iov_base) + left;
                iov[next].iov_len -= left;
                left = 0;
            }
        }
    }
    return true;
}

// [sector * 512, + bytes) inside the disk, computed without overflow.
bool in_range(uint64_t sector, uint64_t bytes, uint64_t capacity_bytes) {
    if (sector > capacity_bytes / VirtioBlk::kSectorSize) return false;
    const uint64_t start = sector * VirtioBlk::kSectorSize;
    return bytes <= capacity_bytes - start;
}

uint64_t disk_size(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) base::throw_errno("virtio-blk: fstat(disk)");
    if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
    if (S_ISBLK(st.st_mode)) {
        const off_t end = ::lseek(fd, 0, SEEK_END);
        if (end < 0) base::throw_errno("virtio-blk: lseek(disk)");
        return static_cast<uint64_t>(end);
    }
    throw std::runtime_error("virtio-blk: the disk is neither a regular file nor a block device");
}

struct Request {
    uint32_t type = 0;
    uint64_t sector = 0;
};

}  // namespace

VirtioBlk::VirtioBlk(base::UniqueFd disk, std::string id, const std::string& device)
    : log_(device), disk_(std::move(disk)), id_(std::move(id)) {
    const int flags = ::fcntl(disk_.get(), F_GETFL);
    if (flags < 0) base::throw_errno("virtio-blk: fcntl(disk)");
    read_only_ = (flags & O_ACCMODE) == O_RDONLY;
    capacity_bytes_ = disk_size(disk_.get()) / kSectorSize * kSectorSize;
    if (id_.size() > kIdBytes) id_.resize(kIdBytes);
}

std::unique_ptr<HostedVirtioDevice> VirtioBlk::create(const std::string& name, Resources& resources) {
    constexpr std::string_view kPrefix = "virtio-";
    const std::string id = "brig-" + (name.starts_with(kPrefix) ? name.substr(kPrefix.size()) : name);
    return std::make_unique<VirtioBlk>(take_resource(resources, std::string(ipc::resource::kDisk), true), id, name);
}

uint64_t VirtioBlk::device_features() const {
    uint64_t f = (1ull << kFeatureSegMax) | (1ull << kFeatureBlkSize) | (1ull << kFeatureFlush);
    if (read_only_)
        f |= 1ull << kFeatureRo;
    else
        f |= (1ull << kFeatureDiscard) | (1ull << kFeatureWriteZeroes);
    return f;
}

void VirtioBlk::read_config(uint32_t offset, std::span<uint8_t> data) {
    uint8_t config[kConfigSize] = {};
    auto put32 = [&config](size_t at, uint32_t v) { std::memcpy(config + at, &v, sizeof v); };
    const uint64_t capacity = capacity_sectors();
    std::memcpy(config + 0, &capacity, sizeof capacity);
    put32(12, queue_max_size() - 2u);  // seg_max: the header and status take two descriptors
    put32(20, kSectorSize);            // blk_size
    put32(36, kMaxDiscardSectors);     // max_discard_sectors
    put32(40, kMaxDiscardSegments);    // max_discard_seg
    put32(44, 1);                      // discard_sector_alignment
    put32(48, kMaxDiscardSectors);     // max_write_zeroes_sectors
    put32(52, kMaxDiscardSegments);    // max_write_zeroes_seg
    config[56] = 1;                    // write_zeroes_may_unmap
    virtio::read_config_bytes(config, offset, data);
}

void VirtioBlk::process_queue(unsigned queue, virtio::QueueContext& ctx) {
    if (queue != 0 || ctx.queues.empty()) return;
    // Every chain the driver has made available, each returned as soon as it is done.
    virtio::serve_available(ctx, 0, [&](const DescriptorChain& chain) { return serve(chain, ctx.memory); });
}

uint32_t VirtioBlk::serve(const DescriptorChain& chain, const GuestMemoryView& memory) {
    const uint64_t writable = chain.writable_bytes();
    if (writable == 0) throw QueueError("virtio-blk: malformed chain: no status byte");
    const uint64_t status_at = writable - 1;
    const uint64_t readable = chain.readable_bytes();
    auto finish = [&](uint8_t status, uint64_t data_written) -> uint32_t {
        virtio::copy_to_buffers(memory, chain.writable, status_at, std::span<const uint8_t>(&status, 1));
        return static_cast<uint32_t>(std::min<uint64_t>(data_written + 1, std::numeric_limits<uint32_t>::max()));
    };

    if (readable < kHeaderBytes) return finish(kStatusIoErr, 0);
    uint8_t header[kHeaderBytes];
    virtio::copy_from_buffers(memory, chain.readable, 0, header);
    Request request;
    request.type = le_at<uint32_t>(header);
    request.sector = le_at<uint64_t>(header + 8);

    switch (request.type) {
        case kTypeIn: {
            const uint64_t len = status_at;  // every writable byte before the status
            if (len % kSectorSize != 0 || !in_range(request.sector, len, capacity_bytes_))
                return finish(kStatusIoErr, 0);
            if (len > 0 && !full_io(false, disk_.get(), virtio::buffer_iovecs(memory, chain.writable, 0, len),
                                    request.sector * kSectorSize))
                return finish(kStatusIoErr, 0);
            return finish(kStatusOk, len);
        }
        case kTypeOut: {
            const uint64_t len = readable - kHeaderBytes;
            if (read_only_ || len % kSectorSize != 0 || !in_range(request.sector, len, capacity_bytes_))
                return finish(kStatusIoErr, 0);
            // Acknowledged only once pwritev() has taken every byte.
            if (len > 0 && !full_io(true, disk_.get(), virtio::buffer_iovecs(memory, chain.readable, kHeaderBytes, len),
                                    request.sector * kSectorSize))
                return finish(kStatusIoErr, 0);
            return finish(kStatusOk, 0);
        }
        case kTypeFlush:
            if (!read_only_ && ::fdatasync(disk_.get()) != 0) return finish(kStatusIoErr, 0);
            return finish(kStatusOk, 0);
        case kTypeGetId: {
            uint8_t id[kIdBytes] = {};
            std::memcpy(id, id_.data(), std::min<size_t>(id_.size(), kIdBytes));
            const uint64_t len = std::min<uint64_t>(status_at, kIdBytes);
            virtio::copy_to_buffers(memory, chain.writable, 0, std::span<const uint8_t>(id, len));
            return finish(kStatusOk, len);
        }
        case kTypeDiscard:
        case kTypeWriteZeroes:
            return finish(serve_discard(request.type, chain, memory), 0);
        default:
            return finish(kStatusUnsupp, 0);
    }
}

// DISCARD and WRITE_ZEROES: an array of segments after the header, each a range of
// sectors, served with fallocate(). A file system that cannot punch or zero a range
// (EOPNOTSUPP) makes the request UNSUPP; Linux then falls back to writing zeroes.
uint8_t VirtioBlk::serve_discard(uint32_t type, const DescriptorChain& chain, const GuestMemoryView& memory) {
    if (read_only_) return kStatusIoErr;
    const uint64_t bytes = chain.readable_bytes() - kHeaderBytes;
    if (bytes == 0 || bytes % kSegmentBytes != 0) return kStatusIoErr;
    const uint64_t count = bytes / kSegmentBytes;
    if (count > kMaxDiscardSegments) return kStatusIoErr;
    for (uint64_t i = 0; i < count; ++i) {
        uint8_t segment[kSegmentBytes];
        virtio::copy_from_buffers(memory, chain.readable, kHeaderBytes + i * kSegmentBytes, segment);
        const auto sector = le_at<uint64_t>(segment);
        const auto sectors = le_at<uint32_t>(segment + 8);
        const auto flags = le_at<uint32_t>(segment + 12);
        if ((flags & ~kFlagUnmap) != 0) return kStatusUnsupp;
        if (type == kTypeDiscard && (flags & kFlagUnmap) != 0) return kStatusUnsupp;
        if (sectors > kMaxDiscardSectors) return kStatusIoErr;
        const uint64_t len = uint64_t{sectors} * kSectorSize;
        if (!in_range(sector, len, capacity_bytes_)) return kStatusIoErr;
        if (len == 0) continue;
        const auto offset = static_cast<off_t>(sector * kSectorSize);
        // Write zeroes may unmap (write_zeroes_may_unmap = 1): a punched hole reads back
        // as zeroes too, so it is the fallback when the file cannot zero a range.
        const bool punch = type == kTypeDiscard || (flags & kFlagUnmap) != 0;
        int rc = ::fallocate(disk_.get(), punch ? kPunchHole : kZeroRange, offset, static_cast<off_t>(len));
        if (rc != 0 && errno == EOPNOTSUPP && !punch)
            rc = ::fallocate(disk_.get(), kPunchHole, offset, static_cast<off_t>(len));
        if (rc != 0) {
            if (errno == EOPNOTSUPP || errno == ENOSYS || errno == ENODEV) return kStatusUnsupp;
            return kStatusIoErr;
        }
    }
    return kStatusOk;
}

void VirtioBlk::flush() {
    if (!read_only_ && ::fdatasync(disk_.get()) != 0) log_.error("fdatasync at shutdown: {}", base::errno_text(errno));
}

}  // namespace brig::devices
