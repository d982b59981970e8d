// `relay replay SESSION_OR_RECORDING [--speed X] [--max-idle 2s] [--list]`: plays shell
// recordings (asciicast v2, written by `relay serve`) in the terminal. It reads the recordings
// directory directly, so it works whether or not the relay runs.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

#include "common/cli/duration_validator.hpp"
#include "common/table.hpp"
#include "common/util.hpp"
#include "relay/admin/cli.hpp"
#include "relay/audit/recording.hpp"

namespace sb::relay::cli {

namespace {

namespace fs = std::filesystem;

struct ReplayArgs {
  std::string data_dir;
  std::string target;
  double speed = 1.0;
  std::string max_idle = "2s";
  bool list = false;
  bool json = false;
};

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// The session's recordings, oldest first (names start with their UTC start time).
std::vector<fs::path> session_recordings(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".cast" && entry.is_regular_file(ec))
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// A session ID (its recordings in order), a file path, a path relative to the data dir (as in
// the recording.started event), or a recording's file name.
std::vector<fs::path> resolve(const std::string& target, const fs::path& data_dir) {
  const fs::path recordings = data_dir / "recordings";
  if (auto id = parse_session_id(target)) {
    auto files = session_recordings(recordings / *id);
    if (files.empty())
      throw std::runtime_error("no recordings of session " + format_session_id(*id) + " in " +
                               recordings.string());
    return files;
  }
  for (const fs::path& candidate : {fs::path(target), data_dir / target, recordings / target})
    if (is_file(candidate)) return {candidate};
  std::error_code ec;
  for (const auto& session : fs::directory_iterator(recordings, ec))
    if (is_file(session.path() / target)) return {session.path() / target};
  throw std::runtime_error("no recording " + target + " (give a session ID, a .cast file, or a " +
                           "name listed by `relay replay SESSION --list`)");
}

std::string local_time(std::int64_t unix_seconds) {
  if (unix_seconds <= 0) return "-";  // a recording without a timestamp
  return format_local_time(std::chrono::system_clock::from_time_t(unix_seconds));
}

std::string human_size(std::uintmax_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 3) value /= 1024, ++unit;
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return buf;
}

struct Summary {
  fs::path file;
  std::int64_t started = 0;
  std::string kind, operator_name;
  std::uintmax_t bytes = 0;
  double seconds = 0;
  int width = 0, height = 0;
  bool truncated = false;
};

// Reads the whole file (streaming) for its duration and whether it was cut at the size limit.
Summary summarize(const fs::path& file) {
  rec::CastReader reader(file);
  Summary s;
  s.file = file;
  s.started = reader.header().value("timestamp", std::int64_t{0});
  s.width = reader.header()["width"].get<int>();
  s.height = reader.header()["height"].get<int>();
  std::string stem = file.stem().string();
  auto own = stem.find("_own-");
  s.kind = own != std::string::npos ? "own" : "shared";
  if (own != std::string::npos) s.operator_name = stem.substr(own + 5);
  std::error_code ec;
  s.bytes = fs::file_size(file, ec);
  while (auto event = reader.next()) {
    s.seconds = event->seconds;
    if (event->code == "m" && event->data == rec::kSizeCapMarker) s.truncated = true;
  }
  return s;
}

void print_list(const std::vector<fs::path>& files, const fs::path& data_dir, bool json) {
  std::vector<Summary> rows;
  for (const auto& f : files) rows.push_back(summarize(f));
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& s : rows) {
      std::error_code ec;
      auto rel = fs::relative(s.file, data_dir, ec);
      out.push_back({{"path", ec || rel.empty() ? s.file.string() : rel.string()},
                     {"started", iso8601_utc(std::chrono::system_clock::from_time_t(s.started))},
                     {"kind", s.kind},
                     {"operator", s.operator_name},
                     {"bytes", s.bytes},
                     {"duration_ms", static_cast<std::int64_t>(s.seconds * 1000)},
                     {"width", s.width},
                     {"height", s.height},
                     {"truncated", s.truncated}});
    }
    std::cout << out.dump(2) << '\n';
    return;
  }
  Table table({"STARTED", "KIND", "OPERATOR", "SIZE", "DURATION", "RECORDING"});
  for (const auto& s : rows) {
    auto ms = std::chrono::milliseconds(static_cast<std::int64_t>(s.seconds * 1000));
    table.add({local_time(s.started), s.kind, or_dash(s.operator_name),
               human_size(s.bytes) + (s.truncated ? " (truncated)" : ""),
               format_duration(std::max(ms, std::chrono::milliseconds(1))),
               s.file.filename().string()});
  }
  table.print(std::cout);
}

// The viewer's terminal, if stdout is one: a recording wider or taller than it is worth a note.
std::optional<std::pair<int, int>> terminal_size() {
  winsize ws{};
  if (!::isatty(STDOUT_FILENO) || ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
    return std::nullopt;
  return std::pair{static_cast<int>(ws.ws_col), static_cast<int>(ws.ws_row)};
}

void note_if_larger(int cols, int rows) {
  auto term = terminal_size();
  if (term && (cols > term->first || rows > term->second))
    std::cerr << "\r\n[replay] the recording is " << cols << "x" << rows
              << ", larger than this terminal (" << term->first << "x" << term->second << ")\r\n";
}

void write_out(const std::string& data) {
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() || std::fflush(stdout) != 0)
    throw std::runtime_error("cannot write to standard output");
}

// Output events to stdout at their pace: gaps capped at max_idle, then divided by speed.
void play(const fs::path& file, double speed, std::chrono::milliseconds max_idle) {
  using Clock = std::chrono::steady_clock;
  rec::CastReader reader(file);
  const auto& header = reader.header();
  std::cerr << "[replay] " << file.filename().string() << ": "
            << header.value("title", std::string("recording")) << ", started "
            << local_time(header.value("timestamp", std::int64_t{0})) << "\n";
  note_if_larger(header["width"].get<int>(), header["height"].get<int>());
  const double idle_cap = std::chrono::duration<double>(max_idle).count();
  double previous = 0, position = 0;  // recording time; position is with gaps capped
  const auto start = Clock::now();
  while (auto event = reader.next()) {
    position += std::min(std::max(event->seconds - previous, 0.0), idle_cap);
    previous = event->seconds;
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(position / speed)));
    if (event->code == "o") {
      write_out(event->data);
    } else if (event->code == "m") {
      std::cerr << "\r\n[replay] " << event->data << "\r\n";
    } else if (event->code == "r") {
      int cols = 0, rows = 0;
      if (std::sscanf(event->data.c_str(), "%dx%d", &cols, &rows) == 2) note_if_larger(cols, rows);
    }
  }
}

}  // namespace

void add_replay(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ReplayArgs>();
  auto* verb = app.add_subcommand(
      "replay",
      "Play shell recordings in this terminal: every recording of a session in order, or one "
      "recording.\nExamples:\n  relay replay 482913075 --list\n  relay replay 482913075 "
      "--speed 4\n  relay replay 20261122T063347Z_own-alice.cast");
  add_data_dir_option(*verb, args->data_dir);
  verb->add_option("SESSION_OR_RECORDING", args->target,
                   "A session ID (all its recordings, oldest first), a .cast file, or a "
                   "recording's name as --list shows it")
      ->required();
  verb->add_option("--speed", args->speed, "Play faster (2, 10) or slower (0.5)")
      ->check(CLI::Range(0.01, 1e6))
      ->capture_default_str();
  verb->add_option("--max-idle", args->max_idle,
                   "Longest pause shown; longer idle stretches are cut to this")
      ->check(duration_validator())
      ->capture_default_str();
  verb->add_flag("--list", args->list,
                 "List the recordings (start, kind, operator, size, duration) instead of "
                 "playing them");
  verb->add_flag("--json", args->json, "With --list: JSON output");
  verb->callback([args, exit_code] {
    auto files = resolve(args->target, args->data_dir);
    if (args->list) {
      print_list(files, args->data_dir, args->json);
    } else {
      for (const auto& file : files) play(file, args->speed, checked_duration(args->max_idle));
    }
    *exit_code = 0;
  });
}

}  // namespace sb::relay::cli
