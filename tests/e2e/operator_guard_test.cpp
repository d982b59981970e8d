// Guessing session IDs: misses are free up to an allowance, then every further refusal for the
// same source address or key waits, longer each time, and the guessing key is held even before
// its lookups; an operator who may attach gets in at once, even from the guesser's own address.
// All clients run on this machine: they bind to distinct loopback addresses (ssh -b 127.0.0.N)
// to be distinct sources.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "harness.hpp"
#include "operator_support.hpp"
#include "relay/store/store.hpp"

namespace sb::e2e {
namespace {

using Clock = std::chrono::steady_clock;

struct Timed {
  RunResult result;
  double seconds = 0;
};
std::string wrong_id(const std::string& live, int n) {
  std::string id = std::to_string(100000000 + 7919 * (n + 1));
  return id == live ? std::to_string(100000001 + 7919 * (n + 1)) : id;
}

class OperatorGuard : public OperatorTest {
 protected:
  // One attempt by operator `name` from a source address, timed from its last try (a refusal
  // at authentication, while the relay loads a just-registered key, is retried and not counted
  // as a miss).
  Timed attempt(const std::string& name, const std::string& source, const std::string& user,
                const std::string& command) {
    Timed t;
    wait_until(
        [&] {
          auto start = Clock::now();
          t.result = run(ssh(name, user, {"-b", source}, {command}));
          t.seconds = seconds_since(start);
          return !ssh_auth_refused(t.result);
        },
        20s);
    return t;
  }
};

TEST_F(OperatorGuard, GuessedIdsAreSlowedWhileTheRightOperatorGetsInAtOnce) {
  // bob is the legitimate operator; mallory guesses from 127.0.0.1, and eve from there too.
  start_device({"bob", "mallory", "eve"});

  // Every key works before any guessing (these attempts hit the live ID: no misses).
  for (const char* name : {"bob", "mallory", "eve"}) {
    auto warm = attempt(name, "127.0.0.4", id_, "echo warm");
    ASSERT_EQ(warm.result.exit_code, 0) << name << ": " << warm.result.err;
  }

  // The allowance: five misses, answered without penalty (in parallel).
  std::vector<Timed> free_misses(5);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < 5; ++i)
      threads.emplace_back(
          [&, i] { free_misses[i] = attempt("mallory", "127.0.0.1", wrong_id(id_, i), "true"); });
    for (auto& t : threads) t.join();
  }
  for (const auto& miss : free_misses) {
    EXPECT_NE(miss.result.exit_code, 0) << miss.result.out;
    EXPECT_LT(miss.seconds, 1.0) << "within the allowance a miss is not delayed";
  }

  // The sixth miss waits (the uniform 0.4 s answer plus a penalty of about a second).
  auto sixth = attempt("mallory", "127.0.0.1", wrong_id(id_, 5), "true");
  EXPECT_NE(sixth.result.exit_code, 0);
  EXPECT_GE(sixth.seconds, 1.3) << "the sixth miss in a minute was not slowed";

  // Now, at the same time: mallory's key from a fresh source (per key), eve's fresh key from
  // mallory's source (per source) -- both held, longer than before -- and bob with the right ID
  // from another address, who gets in at once.
  Timed by_key, by_source;
  std::atomic<bool> by_key_done{false}, by_source_done{false};
  std::thread key_thread([&] {
    by_key = attempt("mallory", "127.0.0.3", wrong_id(id_, 6), "true");
    by_key_done = true;
  });
  std::thread source_thread([&] {
    by_source = attempt("eve", "127.0.0.1", wrong_id(id_, 7), "true");
    by_source_done = true;
  });
  auto legit = attempt("bob", "127.0.0.2", id_, "echo bob-is-in");
  bool guessers_still_held = !by_key_done && !by_source_done;
  key_thread.join();
  source_thread.join();

  EXPECT_EQ(legit.result.exit_code, 0) << legit.result.err;
  EXPECT_EQ(legit.result.out, "bob-is-in\n");
  EXPECT_LT(legit.seconds, 1.0) << "the legitimate operator was slowed by someone else's guesses";
  EXPECT_TRUE(guessers_still_held) << "bob got in only after the guessers' answers";

  EXPECT_NE(by_key.result.exit_code, 0);
  EXPECT_EQ(by_key.result.out, "");
  EXPECT_GE(by_key.seconds, sixth.seconds + 0.5)
      << "the guessing key from a new source address is not slowed (more)";
  EXPECT_NE(by_source.result.exit_code, 0);
  EXPECT_EQ(by_source.result.out, "");
  EXPECT_GE(by_source.seconds, sixth.seconds + 0.5)
      << "a new key from the guessing source address is not slowed (more)";

  // The relay recorded the penalties.
  EXPECT_NE(relay().process().err().find("rate limit"), std::string::npos);
}

TEST_F(OperatorGuard, AGuesserBehindTheSameAddressNeverSlowsAnHonestOperator) {
  // bob is honest, granted web-01; mallory guesses.
  start_relay({"bob", "mallory"});
  start_enrolled_agent(create_enroll_token(relay(), "web-01"));
  ASSERT_EQ(relay().admin({"grant", "add", "bob", "web-01"}).exit_code, 0);
  const std::string nat = "127.0.0.1";  // everyone's address

  // Once the relay has loaded bob's key and grant (asked without an attach, so no miss is
  // counted against the shared address), bob gets in.
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = run(ssh("bob", "relay", {"-b", nat}, {"sessions", "--json"}));
        return r.exit_code == 0 && r.out.find(id_) != std::string::npos;
      },
      10s));
  auto warm = attempt("bob", nat, id_, "echo warm");
  ASSERT_EQ(warm.result.exit_code, 0) << warm.result.err;

  // mallory, from the same address: the allowance (in parallel, answered at the uniform
  // delay), then a paid miss.
  std::vector<Timed> free_misses(5);
  std::vector<std::thread> threads;
  for (int i = 0; i < 5; ++i)
    threads.emplace_back(
        [&, i] { free_misses[i] = attempt("mallory", nat, wrong_id(id_, i), "true"); });
  for (auto& t : threads) t.join();
  auto sixth = attempt("mallory", nat, wrong_id(id_, 5), "true");
  for (const auto& miss : free_misses) {
    EXPECT_NE(miss.result.exit_code, 0);
    EXPECT_LT(miss.seconds, 1.0) << "within the allowance a miss is not delayed";
  }
  EXPECT_NE(sixth.result.exit_code, 0);
  EXPECT_NE(sixth.result.err.find(kNotAvailableText), std::string::npos) << sixth.result.err;
  EXPECT_GE(sixth.seconds, 1.3) << "the sixth miss in a minute was not slowed";

  // bob, from the very same address, right after: at once (no refusal delay, no penalty).
  auto legit = attempt("bob", nat, id_, "echo bob-is-in");
  EXPECT_EQ(legit.result.exit_code, 0) << legit.result.err;
  EXPECT_EQ(legit.result.out, "bob-is-in\n");
  EXPECT_LT(legit.seconds, 0.4) << "bob was slowed by mallory's guesses (warm-up took "
                                << warm.seconds << " s)";
  std::cout << "[ measured ] honest attach from the guessing address: " << legit.seconds
            << " s (before any guessing: " << warm.seconds << " s); mallory's 6th miss "
            << sixth.seconds << " s\n";

  // Each of mallory's six guesses is recorded once, as a refused attach that says why and what
  // the guessing guard did to it (before: the held sixth had a ratelimit.hit of its own).
  const std::string mallory = op("mallory").fingerprint;
  std::vector<nlohmann::json> records;
  auto mallorys = [&] {
    records.clear();
    auto db = store::Db::open(relay().data_dir() / "relay.db", false);
    for (const char* kind : {"attach.", "ratelimit.", "operator.attached"})
      for (auto& row : db->list_events(kind, 100))
        if (row["detail"].value("fingerprint", "") == mallory) records.push_back(row);
    return records.size();
  };
  // The store writes in order: once bob's last attach is in, everything about mallory is too.
  ASSERT_TRUE(wait_until(
      [&] {
        auto db = store::Db::open(relay().data_dir() / "relay.db", false);
        int bobs = 0;
        for (auto& row : db->list_events("operator.attached", 100))
          bobs += row["detail"].value("fingerprint", "") == op("bob").fingerprint;
        return bobs >= 2;
      },
      5s));
  ASSERT_EQ(mallorys(), 6u) << nlohmann::json(records).dump(1);
  int limited = 0;
  for (const auto& record : records) {
    EXPECT_EQ(record["kind"], "attach.refused") << record.dump();
    EXPECT_EQ(record["actor"], mallory) << record.dump();
    EXPECT_EQ(record["detail"]["source_addr"], nat) << record.dump();
    EXPECT_EQ(record["detail"]["reason"], "unknown session ID") << record.dump();
    if (!record["detail"].contains("penalty_ms")) continue;
    ++limited;
    EXPECT_GE(record["detail"]["penalty_ms"].get<int>(), 900) << record.dump();
    EXPECT_GE(record["detail"].value("held_ms", 0), 900) << "the sixth was held first";
  }
  EXPECT_EQ(limited, 1) << "only the sixth guess was rate limited";
}

}  // namespace
}  // namespace sb::e2e
