// Target 3: the VMM's side of the forwarding mailbox (ipc/mailbox.h) against a device
// that writes anything into its half of the shared page between the VMM's accesses:
// its counters, the reply, the shadows, the futex words, and the VMM's half too
// (the page is shared, nothing stops it). The client may only ever return a value of
// the access's size or throw MailboxError; it never waits past its deadline. Here the
// deadline is 0 ms and there is no spin, so each access is decided by what the device
// wrote before it.
#include <chrono>
#include <cstring>

#include "ipc/mailbox.h"
#include "ipc/mailbox_layout.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"

using namespace brig;
using namespace brig::fuzz;
using namespace std::chrono_literals;

namespace {

void device_writes(ipc::MailboxLayout& L, FuzzInput& in, uint64_t posted) {
    switch (in.pick(8)) {
        case 0:  // an honest tail: everything posted, or a little more or less
            L.tail.store(posted + static_cast<int8_t>(in.take<uint8_t>()) % 3);
            break;
        case 1:
            L.tail.store(in.take<uint64_t>());
            break;
        case 2:  // a reply, sequence number near what the VMM expects
            L.reply_seq.store(posted + static_cast<int8_t>(in.take<uint8_t>()) % 3);
            L.reply_size.store(in.take<uint32_t>() % 16);
            L.reply_data.store(in.take<uint64_t>());
            break;
        case 3:
            L.shadow[in.pick(ipc::kShadowRegisters)].store(in.take<uint64_t>());
            break;
        case 4:
            L.device_sleeping.store(in.take<uint32_t>());
            L.device_cpu.store(in.take<int32_t>());
            L.vmm_doorbell.store(in.take<uint32_t>());
            break;
        case 5:  // the VMM's own fields, which the device can overwrite too
            L.head.store(in.take<uint64_t>());
            L.vmm_sleeping.store(in.take<uint32_t>());
            L.vmm_cpu.store(in.take<int32_t>());
            break;
        case 6: {  // raw bytes anywhere in the page
            const size_t at = in.below(sizeof(ipc::MailboxLayout));
            auto b = in.bytes(64);
            std::memcpy(reinterpret_cast<uint8_t*>(&L) + at, b.data(),
                        std::min(b.size(), sizeof(ipc::MailboxLayout) - at));
            break;
        }
        default:
            break;
    }
}

}  // namespace

BRIG_FUZZ_TARGET(mailbox) {
    FuzzInput in(data, size);
    // One mailbox for every input: a memfd and a mapping per input would be most of
    // the time spent. The client is new each time; the page is zeroed for it.
    static ipc::SharedMailbox mailbox = ipc::SharedMailbox::create();
    ipc::MailboxLayout& L = *mailbox.layout();
    std::memset(static_cast<void*>(&L), 0, sizeof L);
    ipc::MailboxClient client(mailbox, 0ms, 0us);
    uint64_t posted = 0;
    for (unsigned steps = 0; !in.empty() && steps < 512; ++steps) {
        device_writes(L, in, posted);
        const uint32_t size_choice[] = {1, 2, 4, 8, 3};
        const uint32_t access_size = size_choice[in.pick(5)];
        try {
            switch (in.pick(5)) {
                case 0:
                    client.post_write(in.take<uint64_t>(), access_size, in.take<uint64_t>());
                    ++posted;
                    break;
                case 1: {
                    const uint64_t value = client.read(in.take<uint64_t>(), access_size);
                    ++posted;
                    if (access_size < 8 && (value >> (8 * access_size)) != 0)
                        fail("a read of " + std::to_string(access_size) + " bytes returned more");
                    break;
                }
                case 2:
                    client.read_shadow(in.pick(ipc::kShadowRegisters + 2));
                    break;
                case 3:
                    client.peek_shadow(in.pick(ipc::kShadowRegisters + 2));
                    break;
                default:
                    client.mark_peer_dead();
                    break;
            }
        } catch (const ipc::MailboxError&) {
            // The one way a lying device may end an access.
        }
    }
    return 0;
}
