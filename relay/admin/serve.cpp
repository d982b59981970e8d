// `relay serve`: runs the relay with the options given on the command line or in a TOML file.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "common/cli/duration_validator.hpp"
#include "common/io/net.hpp"
#include "common/io/read_ahead_switch.hpp"
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
  std::string grace = "2m";
  std::string max_startups = "100:30:300";
  std::string audit_retention = "0";
  unsigned threads = 0;
  std::string log_level = "info";
  bool log_json = false;
  bool no_record = false;
  bool record_input = false;
  std::uint64_t record_max_size = 64ull << 20;
};

void add_network_options(CLI::App& verb, ServeArgs& args) {
  verb.add_option("--listen", args.listen, "Address to accept SSH on, ADDR:PORT or [V6]:PORT")
      ->capture_default_str();
  verb.add_option("--check-interval", args.check_interval,
                  "How often every tunnel is checked; a dead one is purged within 2x this")
      ->check(duration_validator())
      ->capture_default_str();
  verb.add_option("--handshake-timeout", args.handshake_timeout,
                  "Drop connections not authenticated (and, for devices, given a session) "
                  "by then")
      ->check(duration_validator())
      ->capture_default_str();
  verb.add_option("--consent-timeout", args.consent_timeout,
                  "How long the device's user has to answer; no answer means no")
      ->check(duration_validator())
      ->capture_default_str();
  verb.add_option("--grace", args.grace,
                  "How long an attended-help (ad hoc) session keeps its ID after its tunnel "
                  "drops without a goodbye (a network blip): the agent that comes back with the "
                  "same key and resume token gets the same ID; after it, the session ends and "
                  "its keys are purged. 0 ends it at once")
      ->check(duration_validator("no grace: a dropped tunnel ends its session at once"))
      ->capture_default_str();
  verb.add_option("--max-startups", args.max_startups,
                  "START:RATE:FULL as OpenSSH's MaxStartups: from START unauthenticated "
                  "connections in all, refuse new ones with RATE% probability, growing to "
                  "every one at FULL")
      ->capture_default_str();
}

// "START:RATE:FULL" with 1 <= START <= FULL and RATE in 0..100.
void parse_max_startups(const std::string& text, Limits& limits) {
  int start = 0, rate = 0, full = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d:%d:%d%c", &start, &rate, &full, &tail) != 3 || start < 1 ||
      full < start || rate < 0 || rate > 100 || full > 1000000)
    throw CLI::ValidationError("--max-startups",
                               "expected START:RATE:FULL, e.g. 100:30:300 (START <= FULL, RATE "
                               "a percentage), got '" +
                                   text + "'");
  limits.startups_begin = start;
  limits.startups_rate = rate;
  limits.startups_full = full;
}

void add_audit_options(CLI::App& verb, ServeArgs& args) {
  verb.add_option("--audit-retention", args.audit_retention,
                  "Prune audit rows (events, ended sessions, attachments, channels) older than "
                  "this, at start and hourly, e.g. 90d or 12w; 0 keeps them forever. A live "
                  "session's rows are always kept")
      ->check(duration_validator("keep forever"))
      ->capture_default_str();
}

void add_process_options(CLI::App& verb, ServeArgs& args) {
  verb.add_option("--threads", args.threads, "Reactor threads (0 = one per core)")
      ->capture_default_str();
  verb.add_option("--log-level", args.log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  verb.add_flag("--log-json", args.log_json, "Log one JSON object per line");
}

void add_recording_options(CLI::App& verb, ServeArgs& args) {
  verb.add_flag("--no-record", args.no_record,
                "Do not record shells (by default every shared terminal and private shell is "
                "recorded under DATA_DIR/recordings; play them with `relay replay`)");
  verb.add_flag("--record-input", args.record_input,
                "Also record what operators type (passwords typed at a prompt end up in the "
                "recording too)");
  verb.add_option("--record-max-size", args.record_max_size,
                  "Size cap of one recording (e.g. 64M, 1G); past it the recording ends with "
                  "a marker and is noted as truncated")
      ->transform(CLI::AsSizeValue(false))
      ->default_str("64M");
}

// The options as the server takes them; the checks that need more than one flag's text.
ServeOptions to_serve_options(const ServeArgs& args) {
  ServeOptions options;
  options.data_dir = args.data_dir;
  std::string error;
  auto listen = net::parse_host_port(args.listen, 0, &error);
  if (!listen) throw CLI::ValidationError("--listen", error);
  options.listen = *listen;
  options.check_interval = checked_duration(args.check_interval);
  options.limits.handshake_timeout = checked_duration(args.handshake_timeout);
  options.limits.consent_timeout = checked_duration(args.consent_timeout);
  options.limits.resume_grace = checked_duration(args.grace);  // 0: no grace
  parse_max_startups(args.max_startups, options.limits);
  options.audit_retention = checked_duration(args.audit_retention);  // 0: keep forever
  options.threads = args.threads;
  if (args.record_max_size < 4096)
    throw CLI::ValidationError("--record-max-size", "must be at least 4K");
  options.record = !args.no_record;
  options.recording.record_input = args.record_input;
  options.recording.max_file_bytes = args.record_max_size;
  return options;
}

}  // namespace

void add_serve(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  auto* verb = app.add_subcommand("serve", "Run the relay (tells systemd when it is ready)");
  verb->set_config("--config", "", "Read these flags from a TOML file (key = value)");
  add_data_dir_option(*verb, args->data_dir);
  add_network_options(*verb, *args);
  add_audit_options(*verb, *args);
  add_process_options(*verb, *args);
  add_recording_options(*verb, *args);
  verb->callback([args, exit_code] {
    setup_logging("relay", args->log_level, args->log_json);
    const ServeOptions options = to_serve_options(*args);
    try {
      io::check_read_ahead();
      *exit_code = serve(options);
    } catch (const std::exception& e) {
      spdlog::critical("relay cannot serve: {}", e.what());
      *exit_code = 1;
    }
  });
}

}  // namespace sb::relay::cli
