#include "relay/router/channel_progress.hpp"

namespace sb::relay {

void ChannelProgress::track(std::int64_t channel, std::shared_ptr<const LiveBytes> bytes) {
  std::lock_guard lock(mu_);
  channels_[channel] = Entry{std::move(bytes)};
}

void ChannelProgress::untrack(std::int64_t channel) {
  std::lock_guard lock(mu_);
  channels_.erase(channel);
}

std::vector<store::ChannelBytes> ChannelProgress::changed() {
  std::vector<store::ChannelBytes> rows;
  std::lock_guard lock(mu_);
  for (auto& [id, entry] : channels_) {
    const std::uint64_t in = entry.bytes->in.load(std::memory_order_relaxed);
    const std::uint64_t out = entry.bytes->out.load(std::memory_order_relaxed);
    if (in == entry.in_stored && out == entry.out_stored) continue;
    entry.in_stored = in;
    entry.out_stored = out;
    rows.push_back({id, in, out});
  }
  return rows;
}

std::size_t ChannelProgress::size() const {
  std::lock_guard lock(mu_);
  return channels_.size();
}

}  // namespace sb::relay
