#include "ipc/control_guard.h"

#include <capnp/rpc.capnp.h>
#include <spdlog/fmt/fmt.h>

#include "ipc/control_text.h"

namespace brig::ipc {

const char* reason_of(ControlFault::Kind kind) {
    return kind == ControlFault::Kind::Protocol ? "control-protocol" : "control-flood";
}

bool GuardedMessageStream::RateWindow::admit(size_t limit) {
    const auto now = std::chrono::steady_clock::now();
    if (now - start >= std::chrono::seconds(1)) {
        start = now;
        count = 0;
    }
    return ++count <= limit;
}

GuardedMessageStream::GuardedMessageStream(kj::AsyncCapabilityStream& stream, ControlBudget budget, OnFault on_fault)
    : inner_(stream), budget_(budget), on_fault_(std::move(on_fault)) {}

void GuardedMessageStream::fault(ControlFault::Kind kind, const std::string& detail) {
    if (faulted_) return;
    faulted_ = true;
    if (on_fault_) on_fault_({kind, sanitize_report(detail)});
}

bool GuardedMessageStream::admit_report() {
    if (faulted_) return false;
    if (reports_.admit(budget_.reports_per_second)) return true;
    fault(ControlFault::Kind::Flood, fmt::format("more than {} error reports in a second", budget_.reports_per_second));
    return false;
}

bool GuardedMessageStream::admit_host_connect() {
    if (faulted_) return false;
    if (host_connects_.admit(budget_.host_connects_per_second)) return true;
    fault(ControlFault::Kind::Flood,
          fmt::format("more than {} host connection requests in a second", budget_.host_connects_per_second));
    return false;
}

void GuardedMessageStream::check_budget() {
    if (!messages_.admit(budget_.messages_per_second))
        fault(ControlFault::Kind::Flood,
              fmt::format("more than {} control messages in a second", budget_.messages_per_second));
    else if (network_ && network_->getCurrentQueueSize() > budget_.queued_bytes)
        fault(ControlFault::Kind::Flood, fmt::format("{} bytes of replies it does not read (budget {})",
                                                     network_->getCurrentQueueSize(), budget_.queued_bytes));
    else if (network_ && network_->getCurrentQueueCount() > budget_.queued_messages)
        fault(ControlFault::Kind::Flood, fmt::format("{} replies it does not read (budget {})",
                                                     network_->getCurrentQueueCount(), budget_.queued_messages));
}

kj::Promise<kj::Maybe<capnp::MessageReaderAndFds>> GuardedMessageStream::tryReadMessage(
    kj::ArrayPtr<kj::AutoCloseFd> fd_space, capnp::ReaderOptions options, kj::ArrayPtr<capnp::word> scratch) {
    using Result = kj::Maybe<capnp::MessageReaderAndFds>;
    // After a fault nothing more is read: the device is being killed. The connection
    // ends as if it had hung up, so that a command waiting for this device fails now
    // rather than at its deadline.
    auto cut_off = [] {
        return kj::Promise<Result>(KJ_EXCEPTION(DISCONNECTED, "the device broke the control protocol"));
    };
    if (faulted_) return cut_off();
    return inner_.tryReadMessage(fd_space, options, scratch)
        .then(
            [this, cut_off](Result&& message) -> kj::Promise<Result> {
                if (message != nullptr) check_budget();
                if (faulted_) return cut_off();
                return kj::mv(message);
            },
            [this, cut_off](kj::Exception&& e) -> kj::Promise<Result> {
                // A device that died mid-message is the supervisor's business (its pidfd
                // says how); anything else is a frame brig refuses.
                if (e.getType() == kj::Exception::Type::DISCONNECTED) return kj::mv(e);
                fault(ControlFault::Kind::Protocol, e.getDescription().cStr());
                return cut_off();
            });
}

// Cap'n Proto ends a connection it finds broken with an Abort message naming the
// cause: that is how brig learns that a device broke the protocol.
void GuardedMessageStream::notice_abort(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) {
    try {
        capnp::SegmentArrayMessageReader reader(segments);
        auto message = reader.getRoot<capnp::rpc::Message>();
        if (!message.isAbort()) return;
        auto abort = message.getAbort();
        // A peer that simply went away is not a protocol break; the pidfd tells the rest.
        if (abort.getType() == capnp::rpc::Exception::Type::DISCONNECTED) return;
        fault(ControlFault::Kind::Protocol, abort.getReason().cStr());
    } catch (const kj::Exception&) {
        // Our own message; it cannot be malformed. Nothing to learn from it if it were.
    }
}

kj::Promise<void> GuardedMessageStream::writeMessage(kj::ArrayPtr<const int> fds,
                                                     kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) {
    notice_abort(segments);
    return inner_.writeMessage(fds, segments);
}

kj::Promise<void> GuardedMessageStream::writeMessages(
    kj::ArrayPtr<kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>>> messages) {
    for (auto segments : messages) notice_abort(segments);
    return inner_.writeMessages(messages);
}

kj::Maybe<int> GuardedMessageStream::getSendBufferSize() { return inner_.getSendBufferSize(); }

// Cap'n Proto would shutdown(2) the socket after an Abort. brig kills the device
// instead, and closes the socket when the device is reaped.
kj::Promise<void> GuardedMessageStream::end() { return kj::READY_NOW; }

}  // namespace brig::ipc
