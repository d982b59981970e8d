// Audit retention (`relay serve --audit-retention`): which shell recordings have expired, and
// the prune itself, run as a chain of small jobs on the store's writer thread so that live
// writes queued meanwhile run between them.
//
// What decides a recording's age: the directory listing says what exists; the store's session
// rows say when the session a file belongs to ended (the file is in recordings/SESSION_ID/ and
// its name starts with the UTC second it was created, so it belongs to the last session with
// that ID that had started by then). Only when the store no longer knows that session (its
// rows were pruned by an earlier run, or a crash lost them) does the file's mtime stand in: the
// recorder writes a file until its recording stops, so its mtime is when it stopped. The
// recording.started / recording.stopped events are not used: retention prunes them too, and a
// full store queue may have dropped them, so files would outlive the events that name them.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "relay/store/store.hpp"

namespace sb::relay {

class Recorder;

// A regular file found in DATA_DIR/recordings/SESSION_DIR/ (never a symlink).
struct RecordingFile {
  std::string session;  // the directory's name
  std::string name;     // the file's name
  Time modified;        // its mtime
  std::uint64_t bytes = 0;
  // "recordings/SESSION/NAME": how recordings are named in events and by the recorder.
  std::string path() const { return "recordings/" + session + "/" + name; }
};

// Every session each recording directory's ID was issued to, oldest first.
using SessionSpans = std::map<std::string, std::vector<store::SessionSpan>>;

// "20261122T063347Z_shared.cast" -> the last millisecond of that second (UTC), or nullopt when
// the name does not start that way.
std::optional<Time> recording_started(std::string_view file_name);

// The files whose recording has expired: a *.cast file in a directory named like a session ID,
// not in open_paths (what the recorder is writing), no session with that ID live, and the
// session it belongs to ended before cutoff (or, if the store no longer knows that session,
// the file was last written before cutoff). Anything else is kept.
std::vector<RecordingFile> expired_recordings(const std::vector<RecordingFile>& files,
                                              const SessionSpans& spans,
                                              const std::set<std::string>& open_paths, Time cutoff);

// The entries of recordings_dir named like a session ID, at most max_dirs of them; a missing
// recordings_dir is an empty list.
std::vector<std::string> list_session_dirs(const std::filesystem::path& recordings_dir,
                                           std::size_t max_dirs);
// The regular files directly in recordings_dir/session (at most max_files): none if that is a
// symlink or not a directory; symlinks and directories within it are skipped.
std::vector<RecordingFile> list_session_files(const std::filesystem::path& recordings_dir,
                                              const std::string& session, std::size_t max_files);

struct DeleteTally {
  std::int64_t deleted = 0;
  std::uint64_t bytes = 0;
  std::int64_t failed = 0;
};

// Unlinks recordings_dir/SESSION/NAME without following a symlink anywhere below
// recordings_dir; a failure is logged (one line) and counted, and the rest goes on.
void delete_recording(const std::filesystem::path& recordings_dir, const RecordingFile& file,
                      DeleteTally& tally);
// Removes recordings_dir/SESSION if it is an empty directory (never a symlink); true if so.
bool remove_empty_session_dir(const std::filesystem::path& recordings_dir,
                              const std::string& session);

struct RetentionOptions {
  std::filesystem::path data_dir;
  std::chrono::milliseconds keep{0};
  const Recorder* recorder = nullptr;  // its open files are never touched; null: not recording
  // Set when the relay stops: a run ends after the job in progress (the next run goes on).
  std::shared_ptr<const std::atomic<bool>> stop = nullptr;
  int batch_rows = store::kPruneBatchRows;
  std::size_t dirs_per_job = 50;           // session directories swept per store job
  std::size_t max_dirs_per_run = 1000000;  // more wait for the next run
  std::size_t max_files_per_dir = 10000;
};

// Posts one retention run to the store as a chain of jobs, each posting the next behind
// whatever the reactors queued meanwhile: list the session directories; sweep their expired
// recordings, dirs_per_job directories per job (first, while the store still knows their
// sessions); prune the rows, batch_rows per job; then one "audit.pruned" event and log line
// with every count. done (if set) runs on the writer thread when the run ends, whatever happened.
// Returns false if the store refused the first job (queue full).
bool start_retention_run(store::Store& store, const RetentionOptions& options,
                         std::function<void()> done = {});

}  // namespace sb::relay
