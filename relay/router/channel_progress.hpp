// The byte counts of the operators' open channels, kept where every thread can read them so
// that the relay stores them every kPeriod while the channels run: a crash then loses at most
// that much of a channel's counts (its final counts are stored when it closes, as before).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "relay/store/store.hpp"

namespace sb::relay {

// What one open channel has moved so far. Written only by the reactor that owns the channel,
// read by the periodic flush on another thread (relaxed: each count on its own is enough).
struct LiveBytes {
  std::atomic<std::uint64_t> in{0};   // operator -> device
  std::atomic<std::uint64_t> out{0};  // device -> operator
  void set(std::uint64_t to_device, std::uint64_t to_operator) {
    in.store(to_device, std::memory_order_relaxed);
    out.store(to_operator, std::memory_order_relaxed);
  }
  void add_in(std::uint64_t n) { in.fetch_add(n, std::memory_order_relaxed); }
  void add_out(std::uint64_t n) { out.fetch_add(n, std::memory_order_relaxed); }
};

class ChannelProgress {
 public:
  static constexpr std::chrono::seconds kPeriod{2};

  // From the channel's start (its row posted) until its end is posted.
  void track(std::int64_t channel, std::shared_ptr<const LiveBytes> bytes);
  void untrack(std::int64_t channel);
  // The channels whose counts changed since the last call, for Db::update_channel_bytes.
  std::vector<store::ChannelBytes> changed();
  std::size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const LiveBytes> bytes;
    std::uint64_t in_stored = 0, out_stored = 0;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::int64_t, Entry> channels_;
};

}  // namespace sb::relay
