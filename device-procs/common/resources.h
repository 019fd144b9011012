// Activation hands a device its fds by name; a device takes the ones it knows and
// refuses the activation if a required one is missing or an unknown one is left.
#pragma once

#include <map>
#include <stdexcept>
#include <string>

#include "base/unique_fd.h"

namespace brig::devices {

inline base::UniqueFd take_resource(std::map<std::string, base::UniqueFd>& resources, const std::string& name,
                                    bool required) {
    auto it = resources.find(name);
    if (it == resources.end()) {
        if (required) throw std::runtime_error("activate: missing resource '" + name + "'");
        return base::UniqueFd();
    }
    base::UniqueFd fd = std::move(it->second);
    resources.erase(it);
    return fd;
}

}  // namespace brig::devices
