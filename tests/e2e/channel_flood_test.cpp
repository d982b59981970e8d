// One operator connection that opens 1,000 forwards at once (every direct-tcpip open sent before
// any answer is read, from sb-ssh-probe): the relay serves its cap of 32 channels, refuses the
// rest with the standard refusal (administratively prohibited), keeps running, logs the refusal
// once instead of 968 times, and the next operator still gets in.
#include <gtest/gtest.h>

#include <regex>

#include "harness.hpp"
#include "operator_support.hpp"
#include "tcp_service.hpp"

namespace sb::e2e {
namespace {

constexpr int kOpens = 1000;
constexpr int kCap = 32;  // an operator connection's channel cap (docs/security.md)

// "forwards=32 refused=968 ..." -> the number after `name=`; -1 if absent.
int probe_field(const std::string& out, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("\\b" + name + "=(\\d+)"))) return -1;
  return std::stoi(m[1].str());
}

class ChannelFlood : public OperatorTest {
 protected:
  // sb-ssh-probe's forwards as alice to the screen service; mode "" or "busy".
  void flood(const std::string& mode) {
    EchoService screen;
    start_relay({"alice", "bob"});
    start_adhoc_agent({"--screen", "127.0.0.1:" + std::to_string(screen.port())});

    std::vector<std::string> argv{
        ssh_probe_bin(),          "127.0.0.1", std::to_string(relay().port()),
        op("alice").key.string(), id_,         "forwards",
        std::to_string(kOpens),   "screen",    "5900"};
    if (!mode.empty()) argv.push_back(mode);
    const auto started = std::chrono::steady_clock::now();
    RunResult probe;
    // The first connection may come before the relay has loaded alice's key: retried then.
    ASSERT_TRUE(wait_until(
        [&] {
          probe = run(argv, {.timeout = 60s});
          return !contains(probe.out, "auth=denied");
        },
        10s))
        << probe.out << probe.err;
    std::cout << "[ measured ] " << kOpens << " forwards " << (mode.empty() ? "at once" : mode)
              << ": " << trim_end(probe.out) << " in " << seconds_since(started) << " s\n";

    ASSERT_TRUE(relay().process().running())
        << "the relay died: signal " << relay().process().end_signal() << "\n"
        << relay().process().err();
    ASSERT_EQ(probe.exit_code, 0) << probe.out << probe.err << relay().process().err();
    EXPECT_EQ(probe_field(probe.out, "forwards"), kCap) << probe.out;
    EXPECT_EQ(probe_field(probe.out, "served"), kCap) << probe.out << relay().process().err();
    EXPECT_EQ(probe_field(probe.out, "refused"), kOpens - kCap) << probe.out;
    EXPECT_EQ(probe_field(probe.out, "prohibited"), kOpens - kCap) << probe.out;
    EXPECT_EQ(probe_field(probe.out, "unanswered"), 0) << probe.out;
    EXPECT_EQ(screen.connections(), kCap);

    // The next operator gets in, on the same relay.
    auto bob = run_operator_ssh(ssh("bob", id_, {}, {"echo after-the-flood"}));
    EXPECT_EQ(bob.exit_code, 0) << bob.err << relay().process().err();
    EXPECT_EQ(bob.out, "after-the-flood\n");

    // Refused and logged once: the repeats are counted for the next such line or the summary.
    const std::string log = relay().process().err();
    const std::string refusal = "channel cap reached (32 channels open)";
    EXPECT_TRUE(contains(log, "refused forward \"" + id_ + "\" operator=alice")) << log;
    EXPECT_GE(occurrences_of(log, refusal), 1u) << log;
    EXPECT_LE(occurrences_of(log, refusal), 2u) << "one line per 10 s, not one per refusal";
    EXPECT_TRUE(relay().process().running()) << relay().process().err();
  }
};

// Every open sent before the relay has answered any: all arrive before the operator is attached.
TEST_F(ChannelFlood, AThousandForwardsAtOnceAreServedUpToTheCapAndTheRestRefused) {
  flood("");
}

// Two forwards are in use before the rest follow, behind more bytes than the relay reads in
// one turn: the opens then reach it while it walks the operator's channels, inside libssh calls
// for the first forward, and each one accepted there is added to the very list being walked.
TEST_F(ChannelFlood, AThousandForwardsWhileTwoAreInUse) {
  flood("busy");
}

}  // namespace
}  // namespace sb::e2e
