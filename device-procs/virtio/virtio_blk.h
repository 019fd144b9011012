// virtio-blk (virtio 1.2, 5.2) over an fd brig opened: one request queue, requests
// served with preadv/pwritev straight into and out of guest buffers.
//
// Resource: "disk". Opened O_RDONLY, the device offers VIRTIO_BLK_F_RO and fails every
// write with IOERR. Crash consistency: a write is returned to the driver only after
// pwritev() has taken all of it, so every write the guest saw complete is at least in
// the host page cache; FLUSH (and shutdown) make it durable with fdatasync().
#pragma once

#include <cstdint>
#include <string>

#include "base/unique_fd.h"
#include "device-procs/virtio/virtio_service.h"

namespace brig::devices {

class VirtioBlk final : public HostedVirtioDevice {
public:
    // Feature bits (virtio 1.2, 5.2.3).
    static constexpr unsigned kFeatureSegMax = 2;
    static constexpr unsigned kFeatureRo = 5;
    static constexpr unsigned kFeatureBlkSize = 6;
    static constexpr unsigned kFeatureFlush = 9;
    static constexpr unsigned kFeatureDiscard = 13;
    static constexpr unsigned kFeatureWriteZeroes = 14;
    // Request types and status values (5.2.6).
    static constexpr uint32_t kTypeIn = 0;
    static constexpr uint32_t kTypeOut = 1;
    static constexpr uint32_t kTypeFlush = 4;
    static constexpr uint32_t kTypeGetId = 8;
    static constexpr uint32_t kTypeDiscard = 11;
    static constexpr uint32_t kTypeWriteZeroes = 13;
    static constexpr uint8_t kStatusOk = 0;
    static constexpr uint8_t kStatusIoErr = 1;
    static constexpr uint8_t kStatusUnsupp = 2;
    static constexpr uint32_t kSectorSize = 512;
    static constexpr uint32_t kIdBytes = 20;
    static constexpr uint32_t kConfigSize = 60;  // through write_zeroes_may_unmap and its padding
    static constexpr uint32_t kMaxDiscardSegments = 16;
    static constexpr uint32_t kMaxDiscardSectors = 1u << 22;  // 2 GiB per segment

    // `id` is what GET_ID returns (at most 20 bytes are used). Throws std::runtime_error
    // when the disk's size or access mode cannot be read.
    // `device` names it in logs.
    VirtioBlk(base::UniqueFd disk, std::string id, const std::string& device = "virtio-blk");
    // Takes "disk"; GET_ID answers the name with "brig-" for "virtio-" ("virtio-blk0" -> "brig-blk0").
    static std::unique_ptr<HostedVirtioDevice> create(const std::string& name, Resources& resources);

    const ipc::DeviceKind& kind() const override { return ipc::kinds::kVirtioBlk; }
    uint64_t device_features() const override;
    uint32_t config_size() const override { return kConfigSize; }
    void read_config(uint32_t offset, std::span<uint8_t> data) override;
    void process_queue(unsigned queue, virtio::QueueContext& ctx) override;
    void flush() override;

    bool read_only() const { return read_only_; }
    uint64_t capacity_sectors() const { return capacity_bytes_ / kSectorSize; }

private:
    // Serves one chain: returns how many bytes it wrote into the driver's buffers.
    uint32_t serve(const virtio::DescriptorChain& chain, const virtio::GuestMemoryView& memory);
    uint8_t serve_discard(uint32_t type, const virtio::DescriptorChain& chain, const virtio::GuestMemoryView& memory);

    DeviceLogger log_;
    base::UniqueFd disk_;
    std::string id_;
    bool read_only_ = false;
    uint64_t capacity_bytes_ = 0;  // a whole number of sectors
};

}  // namespace brig::devices
