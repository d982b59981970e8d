// Every reactor's share of the connections: those it adopted, which stay on it (so their state
// needs no lock), except an operator's, which moves to its device's reactor once attached; a
// share never touches an operator's connection after that except by close_async. Each share
// runs its own timers (the janitor's tunnel checks and a sweep of handshake deadlines and
// finished connections).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/io/reactor_pool.hpp"
#include "relay/daemon/data_dir.hpp"
#include "relay/router/context.hpp"

namespace sb::relay {

class Shard;

class Shards {
 public:
  // One shard per reactor of `pool`, each with an SSH bind on the relay's host key.
  Shards(ReactorPool& pool, Context& ctx, const DataDir& dir);
  ~Shards();

  // Each call posts to the shards' reactors; none waits.
  void start_timers();
  // Hands an accepted socket to the next shard, round robin (called on the listener's reactor).
  void adopt(int fd, std::string source_addr, Admission::Ticket ticket);
  // The janitor's check of every tunnel now (`relay keys purge`); done(closed) after the last.
  void check_all(std::function<void(int)> done);
  void close_all(const std::string& reason);

 private:
  ReactorPool& pool_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::size_t next_ = 0;
};

}  // namespace sb::relay
