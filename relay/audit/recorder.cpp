#include "relay/audit/recorder.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <unordered_map>

#include "common/util.hpp"
#include "relay/audit/recording.hpp"
#include "relay/store/store.hpp"

namespace sb::relay {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

namespace detail {

struct Item {
  enum class Kind { kStart, kOutput, kInput, kResize, kStop } kind = Kind::kStop;
  std::uint64_t id = 0;
  Clock::time_point at;
  std::string data;
  int cols = 0, rows = 0;
  std::uint64_t dropped_before = 0;     // bytes of this recording dropped just before this item
  std::shared_ptr<RecordingInfo> info;  // kStart
  std::shared_ptr<std::atomic<bool>> ended;  // kStart
  WallClock::time_point wall;                // kStart
};

struct RecorderQueue {
  explicit RecorderQueue(std::size_t max_bytes) : max_bytes(max_bytes) {}
  // Data items are refused past max_bytes; start and stop items always fit (they are tiny and
  // bounded by the number of shells).
  bool push(Item item) {
    std::lock_guard lock(mu);
    if (stopped) return false;
    bool data = item.kind == Item::Kind::kOutput || item.kind == Item::Kind::kInput;
    if (data && bytes + item.data.size() > max_bytes) return false;
    bytes += item.data.size();
    bool was_empty = items.empty();
    items.push_back(std::move(item));
    if (was_empty) cv.notify_one();
    return true;
  }

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> items;
  std::size_t bytes = 0;
  const std::size_t max_bytes;
  bool stopped = false;
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<std::uint64_t> dropped{0};
};

}  // namespace detail

using detail::Item;

// ---- reactor side ----------------------------------------------------------------------------

Recording::Recording(std::shared_ptr<detail::RecorderQueue> queue, std::uint64_t id,
                     std::shared_ptr<std::atomic<bool>> ended, bool record_input)
    : queue_(std::move(queue)), id_(id), ended_(std::move(ended)), record_input_(record_input) {}

Recording::~Recording() {
  Item stop;
  stop.kind = Item::Kind::kStop;
  stop.id = id_;
  stop.at = Clock::now();
  queue_->push(std::move(stop));
}

void Recording::output(std::string_view bytes) {
  push(What::kOutput, bytes, 0, 0);
}

void Recording::input(std::string_view bytes) {
  if (record_input_) push(What::kInput, bytes, 0, 0);
}

void Recording::resize(int cols, int rows) {
  push(What::kResize, {}, cols, rows);
}

void Recording::push(What what, std::string_view bytes, int cols, int rows) {
  if (ended_->load(std::memory_order_relaxed)) return;
  Item item;
  item.kind = what == What::kOutput  ? Item::Kind::kOutput
              : what == What::kInput ? Item::Kind::kInput
                                     : Item::Kind::kResize;
  item.id = id_;
  item.at = Clock::now();
  item.data = std::string(bytes);
  item.cols = cols;
  item.rows = rows;
  item.dropped_before = dropped_;
  if (queue_->push(std::move(item))) {
    dropped_ = 0;
  } else {
    dropped_ += bytes.size();
    queue_->dropped += bytes.size();
  }
}

// ---- recorder thread -------------------------------------------------------------------------

namespace {

constexpr auto kFlushEvery = std::chrono::seconds(1);

// "20261122T063347Z": sorts by time, no characters a shell or a file system dislikes.
std::string compact_utc(WallClock::time_point t) {
  std::time_t secs = WallClock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string file_safe(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return out.substr(0, 64);
}

// "the shared terminal" / "alice's own shell", for the log.
std::string what_of(const RecordingInfo& info) {
  return info.shared ? "the shared terminal" : info.operator_name + "'s own shell";
}

// What the disk said ("No space left on device"), for the recording's mark.
std::string failure_of(const std::exception& e) {
  if (const auto* sys = dynamic_cast<const std::system_error*>(&e)) return sys->code().message();
  return e.what();
}

std::string title_of(const RecordingInfo& info) {
  std::string title = "switchboard session " + format_session_id(info.session);
  if (!info.device.empty()) title += " (" + info.device + ")";
  if (!info.shared) title += ", " + info.operator_name + "'s own shell";
  return title;
}

}  // namespace

struct Recorder::Writer {
  struct Active {
    std::unique_ptr<rec::CastFile> file;  // null once closed early (size cap, write error)
    std::shared_ptr<RecordingInfo> info;
    std::shared_ptr<std::atomic<bool>> ended;
    std::string path;  // relative to the data dir
    Clock::time_point start;
    WallClock::time_point started_wall;
    std::uint64_t bytes = 0;
    std::uint64_t dropped = 0;
    bool truncated = false;
    std::string failed;  // why the disk refused it ("" while it is written)
    bool kept = true;    // false: nothing could be written, no file is left
  };

  Writer(fs::path data_dir, RecorderOptions options, store::Store& store)
      : data_dir(std::move(data_dir)), options(options), store(store) {}

  void run(detail::RecorderQueue& queue) {
    auto last_flush = Clock::now();
    for (;;) {
      std::deque<Item> batch;
      bool stopping;
      {
        std::unique_lock lock(queue.mu);
        queue.cv.wait_for(lock, kFlushEvery, [&] { return !queue.items.empty() || queue.stopped; });
        batch.swap(queue.items);
        queue.bytes = 0;
        stopping = queue.stopped;
      }
      for (auto& item : batch) handle(item);
      if (Clock::now() - last_flush >= kFlushEvery || stopping) {
        flush_all();
        last_flush = Clock::now();
      }
      if (stopping && batch.empty()) break;
    }
    for (auto& [id, active] : recordings) finish(active, Clock::now(), "relay stopped");
    recordings.clear();
  }

  void handle(Item& item) {
    if (item.kind == Item::Kind::kStart) return open(item);
    auto it = recordings.find(item.id);
    if (it == recordings.end()) return;
    Active& active = it->second;
    if (item.kind == Item::Kind::kStop) {
      finish(active, item.at, "");
      recordings.erase(it);
      return;
    }
    if (!active.file) return;
    double t = std::max(0.0, std::chrono::duration<double>(item.at - active.start).count());
    try {
      write(active, item, t);
    } catch (const std::exception& e) {
      spdlog::error("session {}: recording {} stopped: {}", active.info->session, active.path,
                    e.what());
      close_early(active, t, failure_of(e));
    }
  }

  void write(Active& active, const Item& item, double t) {
    if (item.dropped_before > 0) {
      active.dropped += item.dropped_before;
      active.truncated = true;
      spdlog::warn("session {}: {} bytes of recording {} dropped (the recorder fell behind)",
                   active.info->session, item.dropped_before, active.path);
      active.file->marker(t, "switchboard: " + std::to_string(item.dropped_before) +
                                 " bytes not recorded here (the recorder fell behind)");
    }
    bool more = true;
    if (item.kind == Item::Kind::kOutput)
      more = active.file->output(t, item.data);
    else if (item.kind == Item::Kind::kInput)
      more = active.file->input(t, item.data);
    else if (item.kind == Item::Kind::kResize)
      more = active.file->resize(t, item.cols, item.rows);
    if (!more) {
      spdlog::warn("session {}: recording {} reached its size limit ({} bytes); no longer recorded",
                   active.info->session, active.path, options.max_file_bytes);
      close_early(active, t, "");
    }
  }

  void open(Item& item) {
    const RecordingInfo& info = *item.info;
    Active active;
    active.info = item.info;
    active.ended = item.ended;
    active.start = item.at;
    active.started_wall = item.wall;
    try {
      fs::path dir = data_dir / "recordings" / info.session;
      ensure_private_dir(dir);
      std::string base = compact_utc(item.wall) +
                         (info.shared ? "_shared" : "_own-" + file_safe(info.operator_name));
      fs::path file = dir / (base + ".cast");
      for (int n = 2; fs::exists(file) && n < 1000; ++n)
        file = dir / (base + "-" + std::to_string(n) + ".cast");
      rec::Header header{.width = info.cols,
                         .height = info.rows,
                         .timestamp = WallClock::to_time_t(item.wall),
                         .term = info.term,
                         .title = title_of(info)};
      active.path = fs::relative(file, data_dir).string();
      // Known as open before it exists: retention lists files first, then asks what is open.
      set_open(active.path, true);
      active.file = std::make_unique<rec::CastFile>(file, options.max_file_bytes, header);
    } catch (const std::exception& e) {
      spdlog::error("session {} fp={}: cannot record {}: {}", info.session, info.fingerprint,
                    what_of(info), e.what());
      set_open(active.path, false);
      item.ended->store(true);
      // Marked in the audit: the shell was to be recorded and is not (no file is left).
      active.failed = failure_of(e);
      active.kept = false;
      active.truncated = true;
      post_event(store::events::kRecordingStarted, active, nlohmann::json::object(),
                 std::chrono::floor<std::chrono::milliseconds>(item.wall));
      post_stopped(active, item.at, "cannot create the file");
      return;
    }
    spdlog::info("session {} fp={}: recording {} to {}", info.session, info.fingerprint,
                 what_of(info), active.path);
    post_event(store::events::kRecordingStarted, active, nlohmann::json::object(),
               std::chrono::floor<std::chrono::milliseconds>(item.wall));
    recordings.emplace(item.id, std::move(active));
  }

  // Stops recording before the shell ends: its size cap (failed "") or a write the disk
  // refused (failed: the error). The file keeps what was written.
  void close_early(Active& active, double t, const std::string& failed) {
    active.ended->store(true);
    active.truncated = true;
    active.failed = failed;
    close_file(active, t);
    post_stopped(active, Clock::now(), failed.empty() ? "size limit reached" : "write error");
  }

  void close_file(Active& active, double t) {
    if (!active.file) return;
    try {
      active.file->close(t);
    } catch (const std::exception& e) {
      spdlog::error("session {}: recording {}: {}", active.info->session, active.path, e.what());
      active.truncated = true;
      if (active.failed.empty()) active.failed = failure_of(e);
    }
    active.bytes = active.file->bytes();
    active.file.reset();
    set_open(active.path, false);
  }

  void set_open(const std::string& path, bool open) {
    if (path.empty()) return;
    std::lock_guard lock(open_mu);
    if (open)
      open_files.insert(path);
    else
      open_files.erase(path);
  }

  // The end of a recording (its shell ended, or the relay stops).
  void finish(Active& active, Clock::time_point at, const std::string& reason) {
    if (!active.file) return;  // closed early, recording.stopped already posted
    double t = std::max(0.0, std::chrono::duration<double>(at - active.start).count());
    close_file(active, t);
    spdlog::info("session {} fp={}: recording {} ended ({} bytes{})", active.info->session,
                 active.info->fingerprint, active.path, active.bytes,
                 active.truncated ? ", truncated" : "");
    post_stopped(active, at, reason);
  }

  void post_stopped(Active& active, Clock::time_point at, const std::string& reason) {
    auto duration = std::chrono::duration_cast<std::chrono::milliseconds>(at - active.start);
    nlohmann::json extra{{"bytes", active.bytes},
                         {"truncated", active.truncated},
                         {"duration_ms", std::max<std::int64_t>(0, duration.count())}};
    if (active.dropped > 0) extra["dropped"] = active.dropped;
    if (!reason.empty()) extra["reason"] = reason;
    if (!active.failed.empty()) {
      extra["failed"] = active.failed;
      extra["kept"] = active.kept;
    }
    post_event(store::events::kRecordingStopped, active, std::move(extra),
               std::chrono::floor<std::chrono::milliseconds>(
                   active.started_wall +
                   std::chrono::duration_cast<WallClock::duration>(at - active.start)));
  }

  void post_event(const store::EventKind& kind, const Active& active, nlohmann::json detail,
                  Time when) {
    const RecordingInfo& info = *active.info;
    detail["session"] = info.session;
    detail["device"] = info.device;
    if (!info.shared) detail["operator"] = info.operator_name;
    if (info.attachment) detail["attachment"] = *info.attachment;
    detail["path"] = active.path;
    detail["kind"] = info.shared ? "shared" : "own";
    std::string actor = info.operator_name.empty() ? "relay" : info.operator_name;
    store.post([kind, actor, detail = std::move(detail), when](store::Db& db) {
      db.add_event(kind, actor, detail, when);
    });
  }

  void flush_all() {
    for (auto& [id, active] : recordings) {
      if (!active.file) continue;
      try {
        active.file->flush();
      } catch (const std::exception& e) {
        spdlog::error("session {}: recording {} stopped: {}", active.info->session, active.path,
                      e.what());
        close_early(active, std::chrono::duration<double>(Clock::now() - active.start).count(),
                    failure_of(e));
      }
    }
  }

  fs::path data_dir;
  RecorderOptions options;
  store::Store& store;
  std::unordered_map<std::uint64_t, Active> recordings;
  mutable std::mutex open_mu;
  std::set<std::string> open_files;  // paths of the files held open, for audit retention
};

Recorder::Recorder(fs::path data_dir, RecorderOptions options, store::Store& store)
    : queue_(std::make_shared<detail::RecorderQueue>(options.max_queued_bytes)),
      writer_(std::make_unique<Writer>(std::move(data_dir), options, store)),
      options_(options) {
  thread_ = std::thread([this] { writer_->run(*queue_); });
}

Recorder::~Recorder() {
  {
    std::lock_guard lock(queue_->mu);
    queue_->stopped = true;
  }
  queue_->cv.notify_one();
  thread_.join();
}

std::unique_ptr<Recording> Recorder::start(RecordingInfo info) {
  std::uint64_t id = queue_->next_id++;
  auto ended = std::make_shared<std::atomic<bool>>(false);
  Item item;
  item.kind = Item::Kind::kStart;
  item.id = id;
  item.at = Clock::now();
  item.info = std::make_shared<RecordingInfo>(std::move(info));
  item.ended = ended;
  item.wall = WallClock::now();
  if (!queue_->push(std::move(item))) return nullptr;  // the relay is stopping
  return std::make_unique<Recording>(queue_, id, std::move(ended), options_.record_input);
}

std::uint64_t Recorder::dropped_bytes() const {
  return queue_->dropped.load();
}

std::set<std::string> Recorder::open_paths() const {
  std::lock_guard lock(writer_->open_mu);
  return writer_->open_files;
}

// ---- hooks ------------------------------------------------------------------------------------

}  // namespace sb::relay
