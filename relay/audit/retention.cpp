#include "relay/audit/retention.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/time.hpp"
#include "common/util.hpp"
#include "relay/audit/recorder.hpp"

namespace sb::relay {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kSessionIdDigits = 9;

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool looks_like_session_dir(std::string_view name) {
  return name.size() == kSessionIdDigits && all_digits(name);
}

bool is_cast_file(std::string_view name) {
  constexpr std::string_view kCastSuffix = ".cast";
  return name.size() > kCastSuffix.size() && name.ends_with(kCastSuffix);
}

// The session with this ID that had started by `at`: the last one, as IDs are reused only after
// the previous session ended.
const store::SessionSpan* owner_at(const std::vector<store::SessionSpan>& spans, Time at) {
  const store::SessionSpan* owner = nullptr;
  for (const store::SessionSpan& span : spans)
    if (span.started <= at) owner = &span;
  return owner;
}

bool expired(const RecordingFile& file, const std::vector<store::SessionSpan>& spans, Time cutoff) {
  // A session with this ID is live: leave the directory to it, whatever its older files are.
  for (const store::SessionSpan& span : spans)
    if (!span.ended) return false;
  const Time started = recording_started(file.name).value_or(file.modified);
  if (const store::SessionSpan* owner = owner_at(spans, started)) return owner->ended < cutoff;
  return file.modified < cutoff;
}

Time mtime_of(const struct stat& st) {
  return Time(std::chrono::floor<std::chrono::milliseconds>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

// Calls fn(name) for each entry of the directory open as fd (which it takes over and closes).
template <typename Fn>
void for_each_entry(int fd, Fn&& fn) {
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return;
  }
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != ".." && !fn(std::string(name))) break;
  }
  ::closedir(dir);
}

}  // namespace

std::optional<Time> recording_started(std::string_view file_name) {
  // YYYYMMDDTHHMMSSZ
  constexpr std::size_t kStampLength = 16;
  if (file_name.size() < kStampLength || file_name[8] != 'T' || file_name[15] != 'Z' ||
      !all_digits(file_name.substr(0, 8)) || !all_digits(file_name.substr(9, 6)))
    return std::nullopt;
  const auto f = [&](std::size_t at, std::size_t n) {
    return std::string(file_name.substr(at, n));
  };
  // The name holds whole seconds; the session may have started within that same second.
  std::string iso = f(0, 4) + "-" + f(4, 2) + "-" + f(6, 2) + "T" + f(9, 2) + ":" + f(11, 2) + ":" +
                    f(13, 2) + ".999Z";
  return parse_time(iso);
}

std::vector<RecordingFile> expired_recordings(const std::vector<RecordingFile>& files,
                                              const SessionSpans& spans,
                                              const std::set<std::string>& open_paths,
                                              Time cutoff) {
  static const std::vector<store::SessionSpan> kNoSpans;
  std::vector<RecordingFile> out;
  for (const RecordingFile& file : files) {
    if (!looks_like_session_dir(file.session) || !is_cast_file(file.name)) continue;
    if (open_paths.contains(file.path())) continue;
    const auto it = spans.find(file.session);
    if (expired(file, it == spans.end() ? kNoSpans : it->second, cutoff)) out.push_back(file);
  }
  return out;
}

std::vector<std::string> list_session_dirs(const fs::path& recordings_dir, std::size_t max_dirs) {
  std::vector<std::string> out;
  const int fd = ::open(recordings_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT)
      spdlog::warn("audit retention: cannot list {}: {}", recordings_dir.string(),
                   std::strerror(errno));
    return out;
  }
  for_each_entry(fd, [&](const std::string& name) {
    if (looks_like_session_dir(name)) out.push_back(name);
    return out.size() < max_dirs;
  });
  return out;
}

std::vector<RecordingFile> list_session_files(const fs::path& recordings_dir,
                                              const std::string& session, std::size_t max_files) {
  std::vector<RecordingFile> out;
  const int parent = ::open(recordings_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent < 0) return out;
  const int fd = ::openat(parent, session.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  ::close(parent);
  if (fd < 0) return out;  // a symlink, not a directory, or gone: not ours to walk
  for_each_entry(fd, [&](const std::string& name) {
    struct stat st {};
    if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      out.push_back({session, name, mtime_of(st), static_cast<std::uint64_t>(st.st_size)});
    return out.size() < max_files;
  });
  return out;
}

void delete_recording(const fs::path& recordings_dir, const RecordingFile& file,
                      DeleteTally& tally) {
  const fs::path dir = recordings_dir / file.session;
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  const int err = fd < 0 ? errno : (::unlinkat(fd, file.name.c_str(), 0) == 0 ? 0 : errno);
  if (fd >= 0) ::close(fd);
  if (err == 0) {
    ++tally.deleted;
    tally.bytes += file.bytes;
  } else if (err != ENOENT) {  // already gone: nothing to free, nothing to report
    ++tally.failed;
    spdlog::warn("audit retention: cannot delete recording {}: {}", file.path(),
                 std::strerror(err));
  }
}

bool remove_empty_session_dir(const fs::path& recordings_dir, const std::string& session) {
  const int fd = ::open(recordings_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  // AT_REMOVEDIR removes only an empty directory; a symlink is not one (lstat says so first).
  const bool removed = ::fstatat(fd, session.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                       S_ISDIR(st.st_mode) && ::unlinkat(fd, session.c_str(), AT_REMOVEDIR) == 0;
  ::close(fd);
  return removed;
}

// ---- the run: a chain of store jobs --------------------------------------------------------

namespace {

struct RetentionRun {
  enum class Phase { kPlan, kFiles, kRows, kDone };
  RetentionRun(store::Store& s, RetentionOptions o, std::function<void()> d)
      : store(s), options(std::move(o)), done(std::move(d)) {}

  store::Store& store;
  RetentionOptions options;
  std::function<void()> done;
  Time cutoff;
  Phase phase = Phase::kPlan;
  std::vector<std::string> dirs;  // session directories to look at
  std::size_t next_dir = 0;
  DeleteTally files;
  store::PruneCursor cursor;
  store::PruneResult rows;

  fs::path recordings_dir() const { return options.data_dir / "recordings"; }
};

void plan_recordings(RetentionRun& run) {
  run.dirs = list_session_dirs(run.recordings_dir(), run.options.max_dirs_per_run);
  run.phase = run.dirs.empty() ? RetentionRun::Phase::kRows : RetentionRun::Phase::kFiles;
}

bool any_live(const std::vector<store::SessionSpan>& spans) {
  return std::any_of(spans.begin(), spans.end(),
                     [](const store::SessionSpan& s) { return !s.ended; });
}

// One session directory: its expired recordings, then the directory if that left it empty.
void sweep_session_dir(RetentionRun& run, store::Db& db, const std::string& session) {
  const auto files =
      list_session_files(run.recordings_dir(), session, run.options.max_files_per_dir);
  if (files.empty()) return;
  SessionSpans spans{{session, db.session_spans(session)}};
  // Asked after listing: a file the recorder opens meanwhile was not listed.
  const std::set<std::string> open =
      run.options.recorder ? run.options.recorder->open_paths() : std::set<std::string>{};
  const auto doomed = expired_recordings(files, spans, open, run.cutoff);
  for (const RecordingFile& file : doomed) delete_recording(run.recordings_dir(), file, run.files);
  if (!doomed.empty() && !any_live(spans.begin()->second))
    remove_empty_session_dir(run.recordings_dir(), session);
}

void sweep_some_dirs(RetentionRun& run, store::Db& db) {
  const std::size_t end = std::min(run.dirs.size(), run.next_dir + run.options.dirs_per_job);
  for (; run.next_dir < end; ++run.next_dir) sweep_session_dir(run, db, run.dirs[run.next_dir]);
  if (run.next_dir == run.dirs.size()) run.phase = RetentionRun::Phase::kRows;
}

void prune_some_rows(RetentionRun& run, store::Db& db) {
  run.rows += db.prune_audit_batch(run.cutoff, run.cursor, run.options.batch_rows);
  if (run.cursor.done()) run.phase = RetentionRun::Phase::kDone;
}

void finish(RetentionRun& run, store::Db& db) {
  const store::PruneResult& r = run.rows;
  if (r.rows() + run.files.deleted + run.files.failed > 0) {
    nlohmann::json extra{{"recordings", run.files.deleted}, {"recording_bytes", run.files.bytes}};
    if (run.files.failed > 0) extra["recordings_failed"] = run.files.failed;
    try {
      db.record_prune(run.cutoff, r, extra, utc_now());
    } catch (const std::exception& e) {
      spdlog::error("audit retention: cannot record audit.pruned: {}", e.what());
    }
    spdlog::info(
        "audit retention {}: pruned {} events, {} sessions, {} attachments, {} channels, "
        "{} recording{} ({} freed{})",
        format_duration(run.options.keep), r.events, r.sessions, r.attachments, r.channels,
        run.files.deleted, run.files.deleted == 1 ? "" : "s", format_bytes(run.files.bytes),
        run.files.failed > 0 ? ", " + std::to_string(run.files.failed) + " not deletable" : "");
  }
  if (run.done) db.after_commit(run.done);
}

// One bounded piece of the run, then the next piece goes to the back of the store's queue, so
// whatever the reactors posted meanwhile is written first.
void advance(const std::shared_ptr<RetentionRun>& run, store::Db& db) {
  using Phase = RetentionRun::Phase;
  if (run->options.stop && run->options.stop->load()) run->phase = Phase::kDone;
  try {
    switch (run->phase) {
      case Phase::kPlan:
        plan_recordings(*run);
        break;
      case Phase::kFiles:
        sweep_some_dirs(*run, db);
        break;
      case Phase::kRows:
        prune_some_rows(*run, db);
        break;
      case Phase::kDone:
        break;
    }
  } catch (const std::exception& e) {
    spdlog::error("audit retention: {}; the next run goes on from here", e.what());
    run->phase = Phase::kDone;
  }
  if (run->phase != Phase::kDone && run->options.stop && run->options.stop->load()) {
    spdlog::info("audit retention: the relay is stopping; the next run goes on from here");
    run->phase = Phase::kDone;
  }
  if (run->phase != Phase::kDone) {
    // Once this piece is committed: a piece the disk refused runs again, not a second chain.
    return db.after_commit([run, &db] {
      if (run->store.post([run](store::Db& next_db) { advance(run, next_db); })) return;
      spdlog::warn("audit retention: store queue full; the next run goes on from here");
      finish(*run, db);
    });
  }
  finish(*run, db);
}

}  // namespace

bool start_retention_run(store::Store& store, const RetentionOptions& options,
                         std::function<void()> done) {
  auto run = std::make_shared<RetentionRun>(store, options, std::move(done));
  run->cutoff = utc_now() - options.keep;
  return store.post([run](store::Db& db) { advance(run, db); });
}

}  // namespace sb::relay
