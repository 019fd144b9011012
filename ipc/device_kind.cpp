#include "ipc/device_kind.h"

#include <algorithm>
#include <stdexcept>

namespace brig::ipc {

std::string resource::queue(unsigned index) { return std::string(kQueuePrefix) + std::to_string(index); }

std::string DeviceKind::policy_file() const {
    std::string file(name);
    std::replace(file.begin(), file.end(), '-', '_');
    return file + "_device.policy";
}

std::vector<ActivationResource> DeviceKind::resources() const {
    std::vector<ActivationResource> all;
    auto add = [&all, this](std::span<const ResourceSpec> specs) {
        for (const auto& spec : specs) {
            if (spec.name != resource::kQueuePrefix) {
                all.push_back({std::string(spec.name), spec.description, spec.required, spec.jail_fd});
                continue;
            }
            for (unsigned q = 0; q < queue_count; ++q)
                all.push_back({resource::queue(q), spec.description, spec.required, spec.jail_fd});
        }
    };
    add(kinds::detail::kCommon);
    if (is_virtio()) add(kinds::detail::kVirtioCommon);
    add(own_resources);
    return all;
}

const DeviceKind* find_device_kind(std::string_view name) {
    for (const DeviceKind* kind : kinds::kAll)
        if (kind->name == name) return kind;
    return nullptr;
}

const DeviceKind& device_kind(std::string_view name) {
    if (const DeviceKind* kind = find_device_kind(name)) return *kind;
    throw std::out_of_range("unknown device kind '" + std::string(name) + "'");
}

}  // namespace brig::ipc
