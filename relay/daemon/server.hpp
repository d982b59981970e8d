// `relay serve`: the listener, the reactors and their housekeeping, and a graceful stop.
#pragma once
#include <chrono>
#include <filesystem>
#include <string>

#include "common/io/net.hpp"
#include "relay/audit/recorder.hpp"
#include "relay/router/context.hpp"

namespace sb::relay {

struct ServeOptions {
  std::filesystem::path data_dir;
  net::HostPort listen;
  std::chrono::milliseconds check_interval{std::chrono::seconds(30)};
  unsigned threads = 0;  // 0 = one per core
  // Audit rows and shell recordings older than this are pruned at start and hourly (on the
  // store's writer thread, in small batches); zero keeps them forever. A live session's rows
  // and recordings are always kept.
  std::chrono::milliseconds audit_retention{0};
  Limits limits;
  bool record = true;  // shell recordings (serve --no-record turns them off)
  RecorderOptions recording;
};

// Runs until SIGTERM or SIGINT. Returns the process exit code.
int serve(const ServeOptions& options);

}  // namespace sb::relay
