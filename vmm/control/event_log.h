// What happens to a VM, in order, for `brig events`: one JSON object per line, each
// with its sequence number, a UTC timestamp and the event's name. Appended from any
// thread (the supervisor, the vsock broker), read by the control socket's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace brig::control {

// `text` as a JSON string, quoted and escaped (control characters as \u00XX).
std::string json_string(std::string_view text);

class EventLog {
public:
    // The oldest are dropped past this many (a client that reads too slowly misses them).
    static constexpr size_t kMaxEvents = 4096;

    // {"seq":N,"time":"...Z","event":"TYPE"<fields>}: `fields`, when given, is the rest of
    // the object, starting with a comma (",\"code\":0").
    void append(std::string_view type, std::string_view fields = {});
    // Nothing more will come (brig is about to exit).
    void end();

    struct Slice {
        std::vector<std::string> lines;
        uint64_t next = 0;  // ask after this next time
        bool ended = false;
    };
    Slice after(uint64_t seq) const;
    // `wake` runs once, on the appending thread, at the next append() or end().
    void on_next(std::function<void()> wake);

private:
    mutable std::mutex mutex_;
    std::deque<std::pair<uint64_t, std::string>> events_;  // guarded by mutex_
    uint64_t last_seq_ = 0;                                // guarded by mutex_
    bool ended_ = false;                                   // guarded by mutex_
    std::vector<std::function<void()>> waiters_;           // guarded by mutex_
};

}  // namespace brig::control
