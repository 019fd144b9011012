// Console output kept off a device's register and queue paths. A guest's write
// appends to a bounded buffer and returns at once; a writer thread drains the buffer
// to the output fd, blocking for as long as the reader needs. So a stalled reader (a
// paused pager, Ctrl-S, a full pipe) never stalls a vCPU or blames the device. When
// the buffer is full, new bytes are dropped and counted: memory stays bounded.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <thread>

namespace brig::devices {

class BufferedOutput {
public:
    static constexpr size_t kDefaultCapacity = 256 * 1024;

    // `fd` is borrowed and must outlive this object.
    explicit BufferedOutput(int fd, size_t capacity = kDefaultCapacity);
    ~BufferedOutput();  // drains for at most kDrainOnDestroy, then stops the writer
    BufferedOutput(const BufferedOutput&) = delete;
    BufferedOutput& operator=(const BufferedOutput&) = delete;

    // Never blocks on the fd.
    void write(std::span<const uint8_t> bytes);
    // Waits until everything buffered so far is written, or `timeout`; true if it was.
    bool drain(std::chrono::milliseconds timeout);
    uint64_t dropped() const;

    static constexpr std::chrono::milliseconds kDrainOnDestroy{1000};

private:
    void run();

    const int fd_;
    const size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<uint8_t> pending_;
    bool writing_ = false;  // the writer holds bytes taken from pending_
    bool stopping_ = false;
    uint64_t dropped_ = 0;
    std::thread writer_;
};

}  // namespace brig::devices
