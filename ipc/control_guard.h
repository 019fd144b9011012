// The VMM's guard on one device's control connection. Everything a device sends is
// hostile: it may break the Cap'n Proto protocol (a frame claiming 2^31 words, a call
// to an import that does not exist) or flood brig with messages whose replies it
// never reads, so that brig's queues grow without limit. The guard sits between the
// socket and Cap'n Proto's two-party network. On the first breach it reports a
// ControlFault once and stops reading: brig then kills the device, and nothing the
// device sends afterwards is processed.
#pragma once

#include <capnp/rpc-twoparty.h>
#include <capnp/serialize-async.h>
#include <kj/async-io.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "ipc/device_contract.h"

namespace brig::ipc {

struct ControlFault {
    enum class Kind { Protocol, Flood };
    Kind kind;
    std::string detail;  // one printable line
};

// The failure-file reason of a fault: "control-protocol" or "control-flood".
const char* reason_of(ControlFault::Kind kind);

// What one device may cost brig. A device sends a handful of control messages in its
// life (its bootstrap, a rare error report, replies to brig's calls), so these are
// orders of magnitude above honest use and far below what hurts brig.
struct ControlBudget {
    size_t messages_per_second = 1000;  // messages received from the device
    size_t queued_bytes = 1 << 20;      // replies to the device that it has not read
    size_t queued_messages = 1024;
    size_t reports_per_second = 50;  // reportError calls
    // connectHost calls (virtio-vsock): an honest device holds itself to
    // kHostConnectsPerSecond in a window of its own, so twice that never trips here.
    size_t host_connects_per_second = 2 * device_contract::kHostConnectsPerSecond;
};

class GuardedMessageStream final : public capnp::MessageStream {
public:
    using OnFault = std::function<void(ControlFault)>;

    GuardedMessageStream(kj::AsyncCapabilityStream& stream, ControlBudget budget, OnFault on_fault);
    // The network that queues our outgoing messages; its queue counts against the budget.
    void watch_queue(capnp::TwoPartyVatNetwork& network) { network_ = &network; }

    // One reportError call from the device; false (and a fault) when over the budget.
    bool admit_report();
    // One connectHost call; false (and a fault) when over the budget.
    bool admit_host_connect();
    // Reports a fault once and stops serving the device.
    void fault(ControlFault::Kind kind, const std::string& detail);
    bool faulted() const { return faulted_; }

    kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> tryReadMessage(kj::ArrayPtr<kj::AutoCloseFd> fd_space,
                                                                      capnp::ReaderOptions options,
                                                                      kj::ArrayPtr<capnp::word> scratch) override;
    kj::Promise<void> writeMessage(kj::ArrayPtr<const int> fds,
                                   kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) override;
    kj::Promise<void> writeMessages(
        kj::ArrayPtr<kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>> messages) override;
    kj::Maybe<int> getSendBufferSize() override;
    kj::Promise<void> end() override;

private:
    // Counts events in the current one-second window; true while within `limit`.
    struct RateWindow {
        std::chrono::steady_clock::time_point start{};
        size_t count = 0;
        bool admit(size_t limit);
    };
    void check_budget();
    void notice_abort(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments);

    capnp::AsyncCapabilityMessageStream inner_;
    ControlBudget budget_;
    OnFault on_fault_;
    capnp::TwoPartyVatNetwork* network_ = nullptr;
    RateWindow messages_;
    RateWindow reports_;
    RateWindow host_connects_;
    bool faulted_ = false;
};

}  // namespace brig::ipc
