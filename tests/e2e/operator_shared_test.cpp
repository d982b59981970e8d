// Several operators on one device with OpenSSH `ssh -tt` (a forced PTY, typed input from a
// pipe): one shared terminal that every read-write operator types into and everyone sees, an
// observer whose keystrokes never arrive, a late joiner who first sees the recent screen, a
// private shell nobody else sees, and join/leave notices.
//
// Typed lines are `echo NAME-$((6*7))-who`: the shell's output "NAME-42-who" never appears in
// the typed text itself (which the terminal echoes), so seeing it means the shell ran the line.
#include <gtest/gtest.h>
#include <signal.h>

#include "harness.hpp"
#include "operator_support.hpp"

namespace sb::e2e {
namespace {

namespace fs = std::filesystem;

class OperatorShared : public SharedTerminalTest {
 protected:
  void SetUp() override { start_device({"alice", "bob", "carol", "dave", "erin"}); }

  // Waits until every named terminal shows text; returns the names that did not.
  std::vector<std::string> not_seen_by(const std::vector<std::string>& names,
                                       const std::string& text) {
    std::vector<std::string> missing;
    for (const auto& n : names)
      if (!term(n).wait_for_output(text, kSee)) missing.push_back(n);
    return missing;
  }
  static std::string join(const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
  }
  std::string screens() {
    std::string s;
    for (const auto& [name, p] : terminals_)
      s += "---- " + name + " ----\n" + p->out() + "\n(stderr) " + p->err() + "\n";
    return s + "---- agent ----\n" + agent().out();
  }
};

TEST_F(OperatorShared, WhatOneTypesAllSeeObserverCannotTypeLateJoinerSeesTheScreen) {
  open_terminal("alice");
  open_terminal("bob");
  open_terminal("carol", "+ro");

  // What one read-write operator types, all three see executed.
  type("alice", "echo MARK-$((6*7))-alpha");
  auto missing = not_seen_by({"alice", "bob", "carol"}, "MARK-42-alpha");
  ASSERT_TRUE(missing.empty()) << "not seen by " << join(missing) << "\n" << screens();
  type("bob", "echo MARK-$((6*7))-bravo");
  missing = not_seen_by({"alice", "bob", "carol"}, "MARK-42-bravo");
  EXPECT_TRUE(missing.empty()) << "not seen by " << join(missing) << "\n" << screens();

  // The observer's keystrokes never arrive: after a later line from alice has been seen by
  // everyone, nobody saw the observer's line, typed or executed.
  type("carol", "echo OBS-$((6*7))-charlie");
  type("alice", "echo SYNC-$((6*7))-one");
  missing = not_seen_by({"alice", "bob", "carol"}, "SYNC-42-one");
  EXPECT_TRUE(missing.empty()) << "not seen by " << join(missing) << "\n" << screens();
  for (const char* n : {"alice", "bob", "carol"}) {
    EXPECT_EQ(term(n).out().find("OBS-42-charlie"), std::string::npos)
        << "the observer's command ran\n"
        << screens();
    EXPECT_EQ(term(n).out().find("OBS-$(("), std::string::npos)
        << "the observer's keystrokes reached the terminal (" << n << ")\n"
        << screens();
  }

  // The operators already there and the device's user saw who joined, and how.
  EXPECT_TRUE(term("alice").wait_for_output(
      "[switchboard] bob (" + ops_["bob"].fingerprint + ") joined (shared)", kSee))
      << screens();
  EXPECT_TRUE(term("alice").wait_for_output(
      "[switchboard] carol (" + ops_["carol"].fingerprint + ") joined (observer)", kSee))
      << screens();
  EXPECT_TRUE(agent().wait_for_output(
      "[switchboard] carol (" + ops_["carol"].fingerprint + ") joined (observer)", kSee))
      << agent().out();

  // A late joiner first sees the recent screen, before anyone types again.
  open_terminal("dave");
  EXPECT_TRUE(term("dave").wait_for_output("MARK-42-alpha", kSee))
      << "the late joiner did not get the earlier output replayed\n"
      << screens();
  EXPECT_TRUE(term("dave").wait_for_output("SYNC-42-one", kSee)) << screens();
  EXPECT_TRUE(term("alice").wait_for_output(
      "[switchboard] dave (" + ops_["dave"].fingerprint + ") joined (shared)", kSee))
      << screens();
  // ...and then takes part like the others.
  type("dave", "echo MARK-$((6*7))-delta");
  missing = not_seen_by({"alice", "bob", "carol", "dave"}, "MARK-42-delta");
  EXPECT_TRUE(missing.empty()) << "not seen by " << join(missing) << "\n" << screens();

  // One operator leaving ends nothing for the others; they are told.
  term("bob").signal(SIGTERM);
  EXPECT_TRUE(term("bob").wait(10s));
  EXPECT_TRUE(term("alice").wait_for_output("[switchboard] bob left", kSee)) << screens();
  EXPECT_TRUE(agent().wait_for_output("[switchboard] bob left", kSee)) << agent().out();
  type("alice", "echo AFTER-$((6*7))-leave");
  missing = not_seen_by({"alice", "carol", "dave"}, "AFTER-42-leave");
  EXPECT_TRUE(missing.empty()) << "not seen by " << join(missing) << "\n" << screens();
}

TEST_F(OperatorShared, LateJoinerGetsOnlyTheLastReplayBytes) {
  open_terminal("alice");
  // ~200 KB of numbered lines: three times the replay the relay keeps for late joiners.
  type("alice",
       "seq -f 'L%05g-0123456789012345678901234567890123456789012345678901234567' 1 "
       "3000; echo END-$((6*7))");
  ASSERT_TRUE(term("alice").wait_for_output("END-42", kSee)) << term("alice").out().size();
  open_terminal("erin", "+ro");
  ASSERT_TRUE(term("erin").wait_for_output("END-42", kSee));
  const std::string seen = term("erin").out();
  EXPECT_NE(seen.find("L03000-"), std::string::npos) << "the last line is not replayed";
  EXPECT_EQ(seen.find("L00001-"), std::string::npos) << "more than the recent screen replayed";
  EXPECT_LE(seen.size(), 64u * 1024 + 1024) << "replay larger than 64 KiB";
  EXPECT_GE(seen.size(), 60u * 1024) << "replay much smaller than 64 KiB";
}

TEST_F(OperatorShared, PrivateShellIsNotSeenByOthers) {
  open_terminal("alice");
  open_terminal("bob");
  type("alice", "echo MARK-$((6*7))-alpha");
  auto missing = not_seen_by({"alice", "bob"}, "MARK-42-alpha");
  ASSERT_TRUE(missing.empty()) << "not seen by " << join(missing) << "\n" << screens();

  // erin's own shell: her output is hers alone, and the shared screen is not in it.
  open_terminal("erin", "+own");
  type("erin", "echo OWN-$((6*7))-erin");
  ASSERT_TRUE(term("erin").wait_for_output("OWN-42-erin", kSee)) << screens();
  type("alice", "echo SYNC-$((6*7))-two");
  missing = not_seen_by({"alice", "bob"}, "SYNC-42-two");
  EXPECT_TRUE(missing.empty()) << "not seen by " << join(missing) << "\n" << screens();
  for (const char* n : {"alice", "bob"}) {
    EXPECT_EQ(term(n).out().find("OWN-42-erin"), std::string::npos) << screens();
    EXPECT_EQ(term(n).out().find("OWN-$(("), std::string::npos) << screens();
  }
  EXPECT_EQ(term("erin").out().find("MARK-42-alpha"), std::string::npos) << screens();
  EXPECT_EQ(term("erin").out().find("SYNC-42-two"), std::string::npos) << screens();

  // Her shell is a real one of her own: it ends with her exit code, the shared one goes on.
  type("erin", "exit 9");
  auto code = term("erin").wait(10s);
  EXPECT_EQ(code, 9) << screens();
  type("bob", "echo STILL-$((6*7))-here");
  missing = not_seen_by({"alice", "bob"}, "STILL-42-here");
  EXPECT_TRUE(missing.empty()) << "not seen by " << join(missing) << "\n" << screens();
}

}  // namespace
}  // namespace sb::e2e
