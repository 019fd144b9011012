#include "vmm/control/event_log.h"

#include <ctime>
#include <spdlog/fmt/fmt.h>

namespace brig::control {

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            out += fmt::format("\\u{:04x}", u);
        } else {
            out += c;
        }
    }
    return out + "\"";
}

namespace {
std::string utc_now() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    tm parts{};
    gmtime_r(&now.tv_sec, &parts);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", parts.tm_year + 1900, parts.tm_mon + 1,
                       parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1000000);
}
}  // namespace

void EventLog::append(std::string_view type, std::string_view fields) {
    std::vector<std::function<void()>> wake;
    {
        std::lock_guard lock(mutex_);
        if (ended_) return;
        const uint64_t seq = ++last_seq_;
        events_.emplace_back(seq, fmt::format("{{\"seq\":{},\"time\":\"{}\",\"event\":{}{}}}", seq, utc_now(),
                                              json_string(type), fields));
        if (events_.size() > kMaxEvents) events_.pop_front();
        wake.swap(waiters_);
    }
    for (auto& w : wake) w();
}

void EventLog::end() {
    std::vector<std::function<void()>> wake;
    {
        std::lock_guard lock(mutex_);
        ended_ = true;
        wake.swap(waiters_);
    }
    for (auto& w : wake) w();
}

EventLog::Slice EventLog::after(uint64_t seq) const {
    std::lock_guard lock(mutex_);
    Slice slice;
    for (const auto& [n, line] : events_)
        if (n > seq) slice.lines.push_back(line);
    slice.next = std::max(seq, last_seq_);
    slice.ended = ended_;
    return slice;
}

void EventLog::on_next(std::function<void()> wake) {
    // A client that long-polls a quiet VM adds a waiter a second; past kMaxWaiters the
    // old ones are woken now (they only look again).
    constexpr size_t kMaxWaiters = 64;
    std::vector<std::function<void()>> early;
    bool now = false;
    {
        std::lock_guard lock(mutex_);
        if (ended_) {
            now = true;
        } else {
            if (waiters_.size() >= kMaxWaiters) early.swap(waiters_);
            waiters_.push_back(std::move(wake));
        }
    }
    for (auto& w : early) w();
    if (now) wake();
}

}  // namespace brig::control
