#include "vmm/control/control_client.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/error.h"
#include "base/unique_fd.h"
#include "ipc/vm_control.capnp.h"
#include "vmm/unix_listener.h"

namespace brig::control {
namespace {

namespace schema = brig::ipc::control;

int fail(const std::string& verb, const std::string& why) {
    std::fprintf(stderr, "brig: %s: %s\n", verb.c_str(), why.c_str());
    return 1;
}

// A refusal's own words, without Cap'n Proto's wrapping ("remote exception: ...").
std::string reason_of(const kj::Exception& e) {
    std::string text = e.getDescription().cStr();
    constexpr std::string_view kPrefix = "remote exception: ";
    const auto at = text.rfind(kPrefix);
    return at == std::string::npos ? text : text.substr(at + kPrefix.size());
}

base::UniqueFd connect_to(const std::filesystem::path& path, std::string& why) {
    try {
        base::UniqueFd fd = unix_stream_socket();
        if (const int error = connect_unix(fd.get(), path)) {
            why = "no VM at " + path.string() + " (" + base::errno_text(error) + ")";
            return {};
        }
        return fd;
    } catch (const std::exception& e) {  // a path too long for a socket address
        why = "no VM at " + path.string() + " (" + e.what() + ")";
        return {};
    }
}

}  // namespace

int run_control_command(const std::string& verb, const std::filesystem::path& socket) {
    std::string why;
    base::UniqueFd fd = connect_to(socket, why);
    if (!fd) return fail(verb, why);
    bool saw_stopped = false;
    try {
        auto io = kj::setupAsyncIo();
        auto stream = io.lowLevelProvider->wrapSocketFd(fd.release(), kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP);
        capnp::TwoPartyClient client(*stream);
        auto vm = client.bootstrap().castAs<schema::VmControl>();
        const uint32_t version = vm.versionRequest().send().wait(io.waitScope).getVersion();
        if (version != schema::PROTOCOL_VERSION)
            return fail(verb, "the VM speaks control protocol " + std::to_string(version) + ", this brig " +
                                  std::to_string(schema::PROTOCOL_VERSION));
        if (verb == "stop") {
            vm.stopRequest().send().wait(io.waitScope);
        } else if (verb == "suspend") {
            vm.suspendRequest().send().wait(io.waitScope);
        } else if (verb == "resume") {
            vm.resumeRequest().send().wait(io.waitScope);
        } else if (verb == "powerbtn") {
            vm.powerButtonRequest().send().wait(io.waitScope);
        } else if (verb == "status") {
            auto reply = vm.statusRequest().send().wait(io.waitScope);
            std::printf("%s\n", reply.getJson().cStr());
        } else if (verb == "events") {
            uint64_t after = 0;
            for (;;) {
                auto request = vm.eventsRequest();
                request.setAfter(after);
                auto reply = request.send().wait(io.waitScope);
                for (auto line : reply.getLines()) {
                    std::printf("%s\n", line.cStr());
                    saw_stopped |= std::strstr(line.cStr(), "\"event\":\"stopped\"") != nullptr;
                }
                std::fflush(stdout);
                after = reply.getNext();
                if (reply.getEnded()) break;
            }
        } else {
            return fail(verb, "not a control command");
        }
        return 0;
    } catch (const kj::Exception& e) {
        // brig exits right after its last event: a hang-up then is the end.
        if (saw_stopped && e.getType() == kj::Exception::Type::DISCONNECTED) return 0;
        if (e.getType() == kj::Exception::Type::DISCONNECTED) return fail(verb, "the VM went away");
        return fail(verb, reason_of(e));
    }
}

}  // namespace brig::control
