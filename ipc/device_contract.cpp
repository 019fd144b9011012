#include "ipc/device_contract.h"

#include <fcntl.h>

#include "ipc/device_kind.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace brig::ipc::device_contract {
namespace {
uint32_t parse_id(std::string_view text) {
    uint32_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size())
        throw std::runtime_error("bad id '" + std::string(text) + "'");
    return value;
}
}  // namespace

std::vector<std::string> to_argv(const Arguments& args) {
    return {"brig-device", args.kind, args.name, std::to_string(args.uid), std::to_string(args.gid), args.log_level};
}

Arguments parse_argv(int argc, const char* const* argv) {
    if (argc < 5 || argc > 6) throw std::runtime_error("usage: brig-device KIND NAME JAIL_UID JAIL_GID [LOG_LEVEL]");
    Arguments args{argv[1], argv[2], parse_id(argv[3]), parse_id(argv[4])};
    if (argc == 6) args.log_level = argv[5];
    return args;
}

void place_activation_resources(const DeviceKind& kind, std::map<std::string, base::UniqueFd>& resources) {
    const auto expected = kind.resources();
    for (const auto& entry : resources) {
        const std::string& name = entry.first;
        const bool listed =
            std::any_of(expected.begin(), expected.end(), [&name](const auto& r) { return r.name == name; });
        if (!listed) throw std::runtime_error("activate: unexpected resource '" + name + "'");
    }
    for (const auto& spec : expected) {
        auto it = resources.find(spec.name);
        if (it == resources.end()) {
            if (spec.required) throw std::runtime_error("activate: missing resource '" + spec.name + "'");
            continue;
        }
        if (spec.jail_fd == ResourceSpec::kAnyFd || it->second.get() == spec.jail_fd) continue;
        base::UniqueFd placed(::fcntl(it->second.get(), F_DUPFD_CLOEXEC, spec.jail_fd));
        if (placed.get() != spec.jail_fd)
            throw std::runtime_error("activate: cannot place '" + spec.name + "' at fd " +
                                     std::to_string(spec.jail_fd));
        it->second = std::move(placed);
    }
}

}  // namespace brig::ipc::device_contract
