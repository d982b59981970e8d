// `relay serve`: runs the relay with the options given on the command line or in a TOML file.
#include <spdlog/spdlog.h>

#include <iostream>

#include "common/io/net.hpp"
#include "common/logging.hpp"
#include "common/util.hpp"
#include "relay/admin/cli.hpp"
#include "relay/daemon/server.hpp"

namespace sb::relay::cli {

namespace {
struct ServeArgs {
  std::string data_dir;
  std::string listen = "0.0.0.0:2222";
  std::string check_interval = "30s";
  std::string handshake_timeout = "20s";
  std::string consent_timeout = "60s";
  std::string audit_retention = "0";
  unsigned threads = 0;
  std::string log_level = "info";
  bool log_json = false;
  bool no_record = false;
  bool record_input = false;
  std::uint64_t record_max_size = 64ull << 20;
};

std::chrono::milliseconds duration_or_throw(const std::string& text, const char* option) {
  auto d = parse_duration(text);
  if (!d) throw CLI::ValidationError(option, "expected a duration like 500ms, 30s, 2m, 1h");
  return *d;
}
}  // namespace

void add_serve(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  auto* verb = app.add_subcommand("serve", "Run the relay (tells systemd when it is ready)");
  verb->set_config("--config", "", "Read these flags from a TOML file (key = value)");
  add_data_dir_option(*verb, args->data_dir);
  verb->add_option("--listen", args->listen, "Address to accept SSH on, ADDR:PORT or [V6]:PORT")
      ->capture_default_str();
  verb->add_option("--check-interval", args->check_interval,
                   "How often every tunnel is checked; a dead one is purged within 2x this")
      ->capture_default_str();
  verb->add_option("--handshake-timeout", args->handshake_timeout,
                   "Drop connections not authenticated (and, for devices, given a session) "
                   "by then")
      ->capture_default_str();
  verb->add_option("--consent-timeout", args->consent_timeout,
                   "How long the device's user has to answer; no answer means no")
      ->capture_default_str();
  verb->add_option("--audit-retention", args->audit_retention,
                   "Prune audit rows (events, ended sessions, attachments, channels) older than "
                   "this, at start and hourly, e.g. 90d or 12w; 0 keeps them forever. A live "
                   "session's rows are always kept")
      ->capture_default_str();
  verb->add_option("--threads", args->threads, "Reactor threads (0 = one per core)")
      ->capture_default_str();
  verb->add_option("--log-level", args->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  verb->add_flag("--log-json", args->log_json, "Log one JSON object per line");
  verb->add_flag("--no-record", args->no_record,
                 "Do not record shells (by default every shared terminal and private shell is "
                 "recorded under DATA_DIR/recordings; play them with `relay replay`)");
  verb->add_flag("--record-input", args->record_input,
                 "Also record what operators type (passwords typed at a prompt end up in the "
                 "recording too)");
  verb->add_option("--record-max-size", args->record_max_size,
                   "Size cap of one recording (e.g. 64M, 1G); past it the recording ends with "
                   "a marker and is noted as truncated")
      ->transform(CLI::AsSizeValue(false))
      ->default_str("64M");
  verb->callback([args, exit_code] {
    setup_logging("relay", args->log_level, args->log_json);
    ServeOptions options;
    options.data_dir = args->data_dir;
    std::string error;
    auto listen = net::parse_host_port(args->listen, 0, &error);
    if (!listen) throw CLI::ValidationError("--listen", error);
    options.listen = *listen;
    options.check_interval = duration_or_throw(args->check_interval, "--check-interval");
    options.limits.handshake_timeout =
        duration_or_throw(args->handshake_timeout, "--handshake-timeout");
    options.limits.consent_timeout = duration_or_throw(args->consent_timeout, "--consent-timeout");
    if (args->audit_retention != "0") {
      auto keep = parse_duration(args->audit_retention);
      if (!keep) {
        throw CLI::ValidationError("--audit-retention",
                                   "expected 0 (keep forever) or a duration like 90d, 12w, 36h");
      }
      options.audit_retention = *keep;
    }
    options.threads = args->threads;
    if (args->record_max_size < 4096)
      throw CLI::ValidationError("--record-max-size", "must be at least 4K");
    options.record = !args->no_record;
    options.recording.record_input = args->record_input;
    options.recording.max_file_bytes = args->record_max_size;
    try {
      *exit_code = serve(options);
    } catch (const std::exception& e) {
      spdlog::critical("relay cannot serve: {}", e.what());
      *exit_code = 1;
    }
  });
}

}  // namespace sb::relay::cli
