// Admission: early drop as unauthenticated connections pile up, eviction of a source's idle
// sockets instead of locking out the address, short deadlines under pressure, penalties.
#include "relay/router/admission.hpp"

#include <gtest/gtest.h>

namespace sb::relay {
namespace {

using namespace std::chrono_literals;
using Clock = Admission::Clock;

Admission::Ticket ticket_of(const std::variant<Admission::Ticket, Admission::Refusal>& result) {
  const auto* ticket = std::get_if<Admission::Ticket>(&result);
  return ticket ? *ticket : 0;
}

Admission::Limits small() {
  Admission::Limits limits;
  limits.start = 4;
  limits.rate = 50;
  limits.full = 8;
  limits.per_source = 3;
  limits.idle_after = 1s;
  limits.pressed_deadline = 5s;
  limits.penalty = 10s;
  return limits;
}

TEST(Admission, BelowStartEveryConnectionIsAdmitted) {
  Admission admission(small());
  const auto t0 = Clock::now();
  for (int i = 0; i < 4; ++i)
    EXPECT_NE(ticket_of(admission.admit("10.0.0." + std::to_string(i), t0, 0)), 0u);
  EXPECT_EQ(admission.unauthenticated(), 4);
}

TEST(Admission, EarlyDropGrowsFromRateToFull) {
  Admission admission(small());
  const auto t0 = Clock::now();
  for (int i = 0; i < 4; ++i) admission.admit("10.0.0." + std::to_string(i), t0, 99);
  // 4 of start 4, full 8: 50% refused, so a roll under 50 is refused, 50 and up admitted.
  EXPECT_EQ(ticket_of(admission.admit("10.0.1.1", t0, 49)), 0u);
  EXPECT_NE(ticket_of(admission.admit("10.0.1.1", t0, 50)), 0u);
  // 5 of 8: 62% refused.
  EXPECT_EQ(ticket_of(admission.admit("10.0.1.2", t0, 61)), 0u);
  EXPECT_NE(ticket_of(admission.admit("10.0.1.2", t0, 62)), 0u);
  while (admission.unauthenticated() < 8) admission.admit("10.0.2.1", t0, 99);
  EXPECT_EQ(ticket_of(admission.admit("10.0.3.1", t0, 99)), 0u) << "full: always refused";
}

TEST(Admission, ASourceAtItsCapEvictsItsOldestIdleConnection) {
  Admission admission(small());
  const auto t0 = Clock::now();
  int closed[3] = {0, 0, 0};
  Admission::Ticket tickets[3];
  for (int i = 0; i < 3; ++i) {
    tickets[i] = ticket_of(admission.admit("203.0.113.9", t0, 99));
    admission.track(tickets[i], [&closed, i] { ++closed[i]; });
  }
  EXPECT_EQ(ticket_of(admission.admit("203.0.113.9", t0 + 500ms, 99)), 0u)
      << "none idle long enough yet: refused";
  auto honest = ticket_of(admission.admit("203.0.113.9", t0 + 2s, 99));
  EXPECT_NE(honest, 0u);
  EXPECT_EQ(closed[0], 1) << "the oldest idle one made room";
  EXPECT_EQ(closed[1] + closed[2], 0);
  EXPECT_EQ(admission.unauthenticated_from("203.0.113.9"), 3);
  admission.leave(tickets[0], t0 + 2s);  // its close arrives later: counted once
  EXPECT_EQ(admission.unauthenticated_from("203.0.113.9"), 3);
}

TEST(Admission, AConnectionThatFinishedItsKeyExchangeIsNeverEvicted) {
  Admission admission(small());
  const auto t0 = Clock::now();
  int closed = 0;
  for (int i = 0; i < 3; ++i) {
    auto ticket = ticket_of(admission.admit("203.0.113.9", t0, 99));
    admission.track(ticket, [&closed] { ++closed; });
    admission.progressed(ticket);
  }
  EXPECT_EQ(ticket_of(admission.admit("203.0.113.9", t0 + 30s, 99)), 0u);
  EXPECT_EQ(closed, 0);
}

TEST(Admission, OtherSourcesAreNotAffectedByOnesCap) {
  Admission admission(small());
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) admission.admit("203.0.113.9", t0, 99);
  EXPECT_NE(ticket_of(admission.admit("198.51.100.1", t0, 99)), 0u);
}

TEST(Admission, PressureShortensTheHandshakeDeadline) {
  Admission admission(small());
  const auto t0 = Clock::now();
  auto first = ticket_of(admission.admit("10.0.0.1", t0, 99));
  EXPECT_EQ(admission.deadline(first, 20s, t0), 20s);
  for (int i = 0; i < 3; ++i) admission.admit("10.0.0." + std::to_string(i + 2), t0, 99);
  EXPECT_EQ(admission.deadline(first, 20s, t0), 5s) << "at start: pressed";
}

TEST(Admission, ASourceWhoseConnectionsLeaveBeforeTheKeyExchangeIsPenalised) {
  Admission admission(small());
  const auto t0 = Clock::now();
  auto idle = ticket_of(admission.admit("203.0.113.9", t0, 99));
  admission.leave(idle, t0 + 1s);  // timed out or closed without a key exchange
  auto next = ticket_of(admission.admit("203.0.113.9", t0 + 2s, 99));
  EXPECT_EQ(admission.deadline(next, 20s, t0 + 2s), 5s) << "penalised: short deadline";
  // A penalised source's idle sockets make room at once.
  int closed = 0;
  admission.track(next, [&closed] { ++closed; });
  for (int i = 0; i < 2; ++i) admission.admit("203.0.113.9", t0 + 2s, 99);
  EXPECT_NE(ticket_of(admission.admit("203.0.113.9", t0 + 2s, 99)), 0u);
  EXPECT_EQ(closed, 1);
}

TEST(Admission, APenaltyEnds) {
  Admission admission(small());
  const auto t0 = Clock::now();
  admission.leave(ticket_of(admission.admit("203.0.113.9", t0, 99)), t0 + 1s);
  auto later = ticket_of(admission.admit("203.0.113.9", t0 + 60s, 99));
  EXPECT_EQ(admission.deadline(later, 20s, t0 + 60s), 20s);
}

TEST(Admission, AnAuthenticatedConnectionLeavesWithoutPenalty) {
  Admission admission(small());
  const auto t0 = Clock::now();
  auto ticket = ticket_of(admission.admit("10.0.0.1", t0, 99));
  admission.progressed(ticket);
  admission.leave(ticket, t0 + 1s);
  EXPECT_EQ(admission.unauthenticated(), 0);
  auto next = ticket_of(admission.admit("10.0.0.1", t0 + 2s, 99));
  EXPECT_EQ(admission.deadline(next, 20s, t0 + 2s), 20s);
}

}  // namespace
}  // namespace sb::relay
