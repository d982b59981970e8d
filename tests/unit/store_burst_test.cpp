// The store's writer thread under a burst: 100,000 audit events posted from several threads at
// once (as reactors do) are all stored, and no post() waits for the disk. Prints the measured
// post latency (p99, max) and the throughput.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <latch>
#include <thread>
#include <vector>

#include "common/util.hpp"
#include "relay/store/store.hpp"
#include "test_support.hpp"

namespace sb::store {
namespace {
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::nanoseconds;

// Involuntary context switches of the calling thread: the scheduler took the CPU away.
long preemptions() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_nivcsw;
}

std::int64_t count_rows(const std::filesystem::path& file, const char* kind) {
  return testing::RawSql(file).scalar(std::string("SELECT count(*) FROM events WHERE kind = '") +
                                      kind + "'");
}

TEST(StoreBurst, HundredThousandEventsFromFourThreadsAreAllStoredWithoutBlocking) {
  sb::test::TempDir tmp;
  const auto file = tmp.path() / "relay.db";
  Db::open(file, true).reset();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25000 / sb::test::kLoadDivisor;
  std::vector<std::vector<nanoseconds>> latencies(kThreads);
  // Posts during which the poster kept its CPU: what the store itself costs. Four posters and
  // the writer share two cores, so a preempted post takes a scheduler slice whatever the store
  // does.
  std::vector<std::vector<nanoseconds>> unpreempted(kThreads);
  std::atomic<int> refused{0};
  const auto when = utc_now();
  Clock::time_point posted, stored;
  const Clock::time_point start = Clock::now();
  {
    Store store(file);
    std::latch go(kThreads);
    std::vector<std::thread> posters;
    for (int t = 0; t < kThreads; ++t) {
      posters.emplace_back([&, t] {
        latencies[t].reserve(kPerThread);
        unpreempted[t].reserve(kPerThread);
        go.arrive_and_wait();
        for (int i = 0; i < kPerThread; ++i) {
          nlohmann::json detail{{"session", "482913075"}, {"operator", "op" + std::to_string(t)},
                                {"channel", i},           {"kind", "exec"},
                                {"bytes_in", i},          {"bytes_out", 2 * i}};
          const long preempted_before = preemptions();
          const auto a = Clock::now();
          const bool ok = store.post([detail = std::move(detail), when](Db& db) {
            db.add_event(EventKind("burst.channel"), "op", detail, when);
          });
          const auto took = Clock::now() - a;
          latencies[t].push_back(took);
          if (preemptions() == preempted_before) unpreempted[t].push_back(took);
          if (!ok) ++refused;
        }
      });
    }
    for (auto& p : posters) p.join();
    posted = Clock::now();
    store.flush();
    stored = Clock::now();
    EXPECT_EQ(store.dropped(), 0u);
  }
  std::vector<nanoseconds> all, kept_cpu;
  for (const auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  for (const auto& v : unpreempted) kept_cpu.insert(kept_cpu.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  std::sort(kept_cpu.begin(), kept_cpu.end());
  ASSERT_GT(kept_cpu.size(), all.size() / 2) << "the posters were preempted in most posts";
  const auto p99 = all[all.size() * 99 / 100];
  const auto max = all.back();
  const auto max_unpreempted = kept_cpu.back();
  const auto p999_unpreempted = kept_cpu[kept_cpu.size() * 999 / 1000];
  const double secs = std::chrono::duration<double>(stored - start).count();
  std::printf(
      "[ info     ] %zu events from %d threads: posted in %lld ms, stored in %lld ms "
      "(%.0f events/s); post() p50 %lld us, p99 %lld us, max %lld us (%lld us when not "
      "preempted)\n",
      all.size(), kThreads,
      static_cast<long long>(duration_cast<std::chrono::milliseconds>(posted - start).count()),
      static_cast<long long>(duration_cast<std::chrono::milliseconds>(stored - start).count()),
      static_cast<double>(all.size()) / secs,
      static_cast<long long>(duration_cast<microseconds>(all[all.size() / 2]).count()),
      static_cast<long long>(duration_cast<microseconds>(p99).count()),
      static_cast<long long>(duration_cast<microseconds>(max).count()),
      static_cast<long long>(duration_cast<microseconds>(max_unpreempted).count()));
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(count_rows(file, "burst.channel"), kThreads * kPerThread);
  EXPECT_LT(p99, std::chrono::milliseconds(1));
  // Over 50 ms: only a poster that lost its CPU, or waited on the queue's mutex while another
  // poster holding it lost its CPU (a busy 2-core machine with builds beside it). The store
  // itself never makes post() wait: a handful at most, out of 100,000.
  const auto slow = std::count_if(all.begin(), all.end(),
                                  [](nanoseconds d) { return d > std::chrono::milliseconds(50); });
  std::printf("[ info     ] posts over 50 ms: %lld\n", static_cast<long long>(slow));
  EXPECT_LE(slow, 3);
  // ASan makes every allocation and lock slower and the tests run two at a time beside it. A post
  // that kept its CPU can still wait on the queue's mutex behind a poster that lost it: rare.
  const auto p999_bound = kSanitized ? std::chrono::milliseconds(50) : std::chrono::milliseconds(5);
  EXPECT_LT(p999_unpreempted, p999_bound)
      << kept_cpu.size() << " posts kept their CPU; all posts' p999 "
      << duration_cast<microseconds>(all[all.size() * 999 / 1000]).count() << " us";
}

TEST(StoreBurst, AFullQueueRefusesCountsAndKeepsWhatItAccepted) {
  sb::test::TempDir tmp;
  const auto file = tmp.path() / "relay.db";
  Db::open(file, true).reset();
  std::latch running(1), release(1);
  int accepted = 0;
  {
    Store store(file, 100);
    ASSERT_TRUE(store.post([&](Db&) {
      running.count_down();
      release.wait();
    }));
    running.wait();  // the writer is busy; the queue fills
    for (int i = 0; i < 250; ++i)
      accepted +=
          store.post([](Db& db) { db.add_event(EventKind("burst.full"), "", {}, utc_now()); });
    EXPECT_EQ(accepted, 100);
    EXPECT_EQ(store.dropped(), 150u);
    EXPECT_EQ(store.drops_to_report(0), 0u) << "reported while the queue is still full";
    release.count_down();
    store.flush();
    EXPECT_EQ(store.drops_to_report(0), 150u);
    EXPECT_EQ(store.drops_to_report(150), 0u) << "reported twice";
  }
  EXPECT_EQ(count_rows(file, "burst.full"), 100);
}

TEST(StoreBurst, DropsAreReportedOnceTheQueueIsBelowHalfNotOnlyWhenEmpty) {
  sb::test::TempDir tmp;
  const auto file = tmp.path() / "relay.db";
  Db::open(file, true).reset();
  std::latch running(1), release(1);
  Store store(file, 10);
  ASSERT_TRUE(store.post([&](Db&) {
    running.count_down();
    release.wait();
  }));
  running.wait();
  for (int i = 0; i < 12; ++i) store.post([](Db&) {});  // 10 queued, 2 dropped
  ASSERT_EQ(store.dropped(), 2u);
  EXPECT_EQ(store.drops_to_report(0), 0u);
  release.count_down();
  store.flush();
  // A steady trickle keeps a few jobs waiting: still room enough to record the loss.
  std::latch holding(1), hold(1);
  ASSERT_TRUE(store.post([&](Db&) {
    holding.count_down();
    hold.wait();
  }));
  holding.wait();  // the writer is inside that job: what comes next waits in the queue
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store.post([](Db&) {}));
  EXPECT_EQ(store.queued(), 3u);
  EXPECT_EQ(store.drops_to_report(0), 2u);
  hold.count_down();
  store.flush();
}

}  // namespace
}  // namespace sb::store
