// `brig stop|suspend|resume|status|events SOCKET`: one request on a running VM's
// control socket (control_server.h). Exit status 0, or 1 with one line on stderr: no
// VM there, a refused transition, a protocol version this brig does not know.
#pragma once

#include <filesystem>
#include <string>

namespace brig::control {

int run_control_command(const std::string& verb, const std::filesystem::path& socket);

}  // namespace brig::control
