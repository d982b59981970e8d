// Shell recordings: reactors hand what a shell shows (and, with --record-input, what is typed,
// and its size changes) to one recorder thread through a bounded queue; that thread writes
// asciicast v2 files under DATA_DIR/recordings/SESSION_ID/ and posts recording.started /
// recording.stopped events. A reactor never waits for the disk: when the queue is full a
// chunk is dropped, counted, and the recording marked truncated.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

namespace sb::store {
class Store;
}

namespace sb::relay {

struct RecorderOptions {
  std::uint64_t max_file_bytes = 64ull << 20;  // per recording; then a marker and it stops
  bool record_input = false;
  std::size_t max_queued_bytes = 16u << 20;  // all recordings together
};

// What is recorded: one shared terminal, or one operator's own shell.
struct RecordingInfo {
  std::string session;        // nine digits
  std::string device;         // enrolled name, "" for ad hoc
  std::string operator_name;  // own shell: its operator; shared: the member who started it
  std::string fingerprint;    // that operator's key (for the log)
  std::optional<std::int64_t> attachment;
  bool shared = true;
  int cols = 80, rows = 24;
  std::string term = "xterm";
};

namespace detail {
struct RecorderQueue;
}

// The reactor's end of one recording. Calls only queue (no disk, no waiting); destroying it
// closes the file.
class Recording {
 public:
  Recording(std::shared_ptr<detail::RecorderQueue> queue, std::uint64_t id,
            std::shared_ptr<std::atomic<bool>> ended, bool record_input);
  ~Recording();
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

  void output(std::string_view bytes);
  void input(std::string_view bytes);  // ignored unless the relay records input
  void resize(int cols, int rows);

 private:
  enum class What { kOutput, kInput, kResize };
  void push(What what, std::string_view bytes, int cols, int rows);
  std::shared_ptr<detail::RecorderQueue> queue_;
  std::uint64_t id_;
  std::shared_ptr<std::atomic<bool>> ended_;  // set by the recorder: size cap or write error
  bool record_input_;
  std::uint64_t dropped_ = 0;  // bytes dropped since the last chunk that was queued
};

class Recorder {
 public:
  Recorder(std::filesystem::path data_dir, RecorderOptions options, store::Store& store);
  // Writes what is still queued, closes every recording (recording.stopped), stops the thread.
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Reactor side: the file is created on the recorder thread.
  std::unique_ptr<Recording> start(RecordingInfo info);
  // Chunks dropped because the queue was full, in bytes, since the start.
  std::uint64_t dropped_bytes() const;
  // The files being written now ("recordings/SESSION/NAME"), from any thread: audit retention
  // never deletes these.
  std::set<std::string> open_paths() const;

 private:
  struct Writer;
  std::shared_ptr<detail::RecorderQueue> queue_;
  std::unique_ptr<Writer> writer_;
  RecorderOptions options_;
  std::thread thread_;
};

}  // namespace sb::relay
