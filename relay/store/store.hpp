// The relay's store: what its callers need (rows, operations named for what they do), with no
// SQL in sight. `Db` is one synchronous connection (used by the admin CLI and by the writer
// thread); `Store` owns the writer thread and its queue, so reactor threads never wait for the
// disk. The one backend today is SQLite (relay/store/sqlite_db.hpp, private to this folder): a
// second one (PostgreSQL) would implement Db without changing the callers.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/time.hpp"
#include "relay/store/audit_events.hpp"

namespace sb::store {

struct DeviceRow {
  std::string name;
  std::string fingerprint;
  std::string key;  // "ssh-ed25519 AAAA..."
  Time enrolled;
  std::string status;  // "online" | "offline" | "revoked"
  std::optional<Time> last_seen;
  // hostname, os, kernel, arch, agent_version, the system info (device-agent/
  // system_info_json.hpp), address, reported_at
  nlohmann::json info;
  std::vector<std::string> groups;  // sorted
};

struct SessionRow {
  std::string id;
  std::string device;       // enrolled name, or "" for an ad-hoc device
  std::string fingerprint;  // the tunnel key
  std::string kind;         // "adhoc" | "enrolled"
  std::string source_addr;
  Time started;
  std::optional<Time> ended;  // nullopt while live
  std::string end_reason;
  nlohmann::json info;
  // Live, but its device went away at this time and the ID is held for it to come back.
  std::optional<Time> held_since;
};

struct TunnelKeyRow {
  std::string fingerprint;
  std::string device;
  std::string session_id;
  Time since;
};

struct SessionStart {
  std::string id;
  std::string device;  // "" for ad hoc
  std::string fingerprint;
  std::string key;  // openssh line of the tunnel key
  std::string kind;
  std::string source_addr;
  Time started;
  nlohmann::json info;
};

struct OperatorRow {
  std::string name;
  std::string key;  // "ssh-ed25519 AAAA... comment"
  std::string fingerprint;
  Time added;
};

struct GrantRow {
  std::string operator_name;
  std::string device;  // a device name, or "@GROUP" for every device in that group
  Time added;
};

// A grant's target names a group when it starts with this ("@kiosks"); device and group names
// never contain it.
inline constexpr char kGroupGrantPrefix = '@';

struct EnrollmentRow {
  std::string id;     // public handle (`relay enroll revoke ID`), never the token
  std::string name;   // "" for a token that names each device after its hostname
  std::string group;  // "" for none: the group each device it enrolls joins
  int max_uses = 1;
  int uses = 0;
  Time created;
  Time expires;
  std::optional<Time> used;  // the latest use; nullopt while unused
  std::optional<Time> revoked;
  int uses_left(Time now) const {
    return revoked || expires < now || uses >= max_uses ? 0 : max_uses - uses;
  }
};

// What `relay enroll create` stores.
struct NewEnrollment {
  std::string name;   // "" to name each device after its hostname
  std::string group;  // "" for none
  int max_uses = 1;   // 1..kMaxEnrollUses; more than 1 only without a name
  std::string token_hash;
  Time created;
  Time expires;
};
inline constexpr int kMaxEnrollUses = 10000;
// How far a name from a hostname is taken with a suffix ("kiosk-2", "kiosk-3", ...).
inline constexpr int kMaxNameSuffix = 100000;
// Groups one device may be in (group names follow the rules of device names: valid_name).
inline constexpr std::size_t kMaxGroupsPerDevice = 32;

// One device presenting a token.
struct Redemption {
  std::string token_hash;
  std::string fingerprint;
  std::string key_line;
  std::string wanted_name;  // the agent's --name ("" for none): taken exactly, never suffixed
  std::string hostname;     // what the agent reported: the name's base for hostname tokens
  Time when;
};

enum class RedeemStatus {
  kOk,
  kUnknownToken,
  kExpired,
  kAlreadyUsed,  // every use taken
  kNameTaken,
  kRevoked,
  kBadHostname,  // a hostname token, and no --name: the hostname makes no device name
};
struct RedeemResult {
  RedeemStatus status;
  std::string device;  // the enrolled name on success
  int max_uses = 1;    // of the token (0 if unknown)
};

// Known keys, for the authentication callbacks (an in-memory snapshot, no disk on a reactor).
struct KeySnapshot {
  std::unordered_map<std::string, std::string> device_by_fingerprint;  // enrolled, not revoked
  std::unordered_map<std::string, std::string> revoked_by_fingerprint;
  std::unordered_map<std::string, std::string> operator_by_fingerprint;
  std::set<std::pair<std::string, std::string>> grants;  // (operator, device or "@GROUP")
  std::unordered_map<std::string, std::vector<std::string>> groups_by_device;  // sorted
  std::unordered_map<std::string, std::vector<std::string>> devices_by_group;  // sorted
  // A grant for the device itself, or for one of its groups.
  bool may_join(const std::string& operator_name, const std::string& device) const;
  // Db::load_key_snapshot: PRAGMA data_version. Snapshots published by Store::watch_keys are
  // numbered 1, 2, 3, ... instead (one more for each change).
  std::int64_t version = 0;
};

// ---- Audit rows written from the live path (relay/store/audit_writes.cpp) -----------------
// Attachment and channel IDs are handed out by the relay (IdAllocator), not by SQLite, so a
// reactor can name a row at once and post its end later without waiting for the writer.

// Hands out increasing IDs from any thread, starting after the largest one already stored.
class IdAllocator {
 public:
  explicit IdAllocator(std::int64_t last = 0) : last_(last) {}
  void reset(std::int64_t last) { last_.store(last); }
  std::int64_t next() { return last_.fetch_add(1) + 1; }

 private:
  std::atomic<std::int64_t> last_;
};

struct AuditIds {
  IdAllocator attachments;
  IdAllocator channels;
};

struct AttachmentStart {
  std::int64_t id = 0;
  std::string session_id;
  std::string operator_name;
  std::string fingerprint;
  std::string mode;  // "shared" | "observer" | "own" | "query"
  std::string source_addr;
  Time started;
};

struct ChannelStart {
  std::int64_t id = 0;
  std::int64_t attachment = 0;
  std::string kind;     // shell | exec | subsystem | screen | sshd | proxy | service
  std::string target;   // host:port of forwards, "shared" / "own" for shells
  std::string command;  // exec command text or subsystem name
  Time started;
};

struct ChannelEnd {
  std::int64_t id = 0;
  std::optional<int> exit_status;
  std::string exit_signal;      // "" if none
  std::uint64_t bytes_in = 0;   // operator -> device
  std::uint64_t bytes_out = 0;  // device -> operator
  Time ended;
};

// An open channel's byte counts so far (stored every few seconds while it runs, so that a
// crash loses at most that much of them).
struct ChannelBytes {
  std::int64_t id = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

// --- Audit reads and retention (relay/store/audit_queries.cpp) ---

// What `relay audit` asks for. Empty strings, absent times and an empty kinds list mean "any":
// since is inclusive (time >= since), until exclusive (time < until). Each kind is a prefix:
// "consent" matches consent.asked and consent.answered.
struct AuditFilter {
  std::string device;
  std::string operator_name;
  std::string session;
  std::optional<Time> since;
  std::optional<Time> until;
  std::vector<std::string> kinds;
  int limit = 50;             // rows per page, 1..kMaxAuditLimit
  int page = 1;               // 1-based
  bool oldest_first = false;  // default: newest first, so page 1 is the latest activity
};
inline constexpr int kMaxAuditLimit = 10000;
inline constexpr std::size_t kMaxAuditKinds = 32;
inline constexpr int kMaxStoryEvents = 5000;

struct AuditRow {
  std::int64_t id = 0;
  Time time;
  std::string kind;
  std::string actor;
  std::string session;  // "" when the event concerns no session
  std::string device;
  std::string operator_name;
  nlohmann::json detail;
  bool recorded = false;  // the session has a recording (a recording.started event)
};

struct AuditPage {
  std::vector<AuditRow> rows;
  std::int64_t total = 0;  // rows matching the filter, over every page
  int page = 1;
  int pages = 0;  // ceil(total / limit)
};

struct ChannelRow {
  std::int64_t id = 0;
  std::int64_t attachment = 0;
  std::string kind;  // shell, exec, subsystem, screen, sshd, proxy, service
  std::string target;
  std::string command;
  std::optional<std::int64_t> exit_status;
  std::string exit_signal;
  std::int64_t bytes_in = 0;   // operator -> device
  std::int64_t bytes_out = 0;  // device -> operator
  Time started;
  std::optional<Time> ended;
};

struct AttachmentRow {
  std::int64_t id = 0;
  std::string session_id;
  std::string operator_name;
  std::string fingerprint;
  std::string mode;
  std::string source_addr;
  Time started;
  std::optional<Time> ended;
  std::string end_reason;
  std::vector<ChannelRow> channels;
};

struct RecordingRef {
  std::string path;  // relative to the data dir
  std::string kind;  // shared | own
  std::string operator_name;
  Time started;
  // Why the disk refused it ("No space left on device"), "" if it did not: the recording then
  // stopped there, its file cut at the last whole line (kept), or never created (not kept).
  std::string failed{};
  bool kept = true;
};

// One session from issue to end. A session ID may be issued again after its session ended:
// the story holds what happened from this session's start until the next session with the same
// ID started.
struct SessionStory {
  SessionRow session;
  std::vector<AttachmentRow> attachments;  // oldest first, channels nested
  std::vector<AuditRow> events;            // oldest first, at most kMaxStoryEvents
  std::int64_t events_total = 0;           // all of them (`relay audit --session` pages)
  std::vector<RecordingRef> recordings;
};

struct SessionSummary {
  SessionRow session;
  std::vector<std::string> operators;  // who attached, in order of first attach
};

struct DeviceStory {
  DeviceRow device;
  std::string status;   // online (a live session) | offline | revoked
  std::string address;  // source address of its latest session
  std::vector<GrantRow> grants;
  std::vector<SessionSummary> recent_sessions;  // newest first
};

struct PruneResult {
  std::int64_t events = 0;
  std::int64_t sessions = 0;
  std::int64_t attachments = 0;
  std::int64_t channels = 0;
  std::int64_t rows() const { return events + sessions + attachments + channels; }
  PruneResult& operator+=(const PruneResult& other);
};

// Where a prune in batches has got to. Tables are pruned in this order (a table's turn ends
// when a batch deletes fewer rows than it may): channels before the attachments they point
// to; events are walked in (time, id) order, so the old rows a live session keeps are passed
// over once, not rescanned by every batch.
struct PruneCursor {
  enum class Stage { kChannels, kAttachments, kSessions, kEvents, kDone };
  Stage stage = Stage::kChannels;
  std::optional<Time> event_time;  // the last event looked at (nullopt before the first)
  std::int64_t event_id = 0;
  bool done() const { return stage == Stage::kDone; }
};
// Rows deleted per transaction: small enough that live writes queued behind a batch wait
// milliseconds, not the whole prune.
inline constexpr int kPruneBatchRows = 5000;

// When one session with some ID started and ended (nullopt while live).
struct SessionSpan {
  Time started;
  std::optional<Time> ended;
};

class Db {
 public:
  // Opens (creating when create=true) the database file, sets WAL, busy_timeout and foreign
  // keys, and applies pending migrations. Throws std::runtime_error with a clear message.
  // A new file is created with mode 0600; its directory must already exist.
  // (Today the one backend is SQLite.)
  static std::unique_ptr<Db> open(const std::filesystem::path& file, bool create);
  virtual ~Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  virtual int schema_version() = 0;
  static int latest_schema_version();

  // Runs fn as one transaction: all of it is committed, or nothing (rethrows fn's exception).
  // Nested calls are nested transactions, so an inner failure undoes only the inner work.
  virtual void transaction(const std::function<void()>& fn) = 0;
  // Runs fn once the outermost transaction around this call has committed (at once outside
  // one); never if that transaction, or the nested one fn was registered in, is undone. For
  // what a store job does beyond the database (a reply, a post to a reactor): the Store may
  // run a job again after the disk refused its batch, and only the committed run counts.
  virtual void after_commit(std::function<void()> fn) = 0;

  // --- writes (each is one transaction unless called inside transaction()) ---
  virtual void insert_session(const SessionStart& s) = 0;
  // Ends a live session: sessions.ended/end_reason, its tunnel_keys deleted, its open
  // attachments ended, devices.status offline (if enrolled), one "session.ended" event.
  // No-op if already ended.
  virtual void end_session(const std::string& id, const std::string& reason, Time when) = 0;
  // At relay start: ends every session, attachment and channel left open by a crash, each with
  // its own event ("session.ended", "operator.detached", "channel.closed" with the byte counts
  // stored so far) giving `reason`; deletes every tunnel key, marks devices offline, and adds
  // one "janitor.purge" event. Returns how many sessions it ended.
  virtual int purge_stale(const std::string& reason, Time when) = 0;
  // Deletes tunnel keys whose session has ended (the janitor's sweep). Returns rows removed.
  virtual int purge_orphan_tunnel_keys(Time when) = 0;
  virtual void add_event(const EventKind& kind, const std::string& actor,
                         const nlohmann::json& detail, Time when) = 0;
  // Stores the token's hash and returns the token's ID; throws if the name is already enrolled
  // (and not revoked), std::invalid_argument for a bad name, group or use count.
  virtual std::string create_enrollment(const NewEnrollment& token) = 0;
  // A single-use token for one named device.
  std::string create_enrollment(const std::string& name, const std::string& token_hash,
                                Time created, Time expires) {
    return create_enrollment(NewEnrollment{name, "", 1, token_hash, created, expires});
  }
  // Atomically checks the token and takes one use of it, creating the device row with the key
  // (and its group membership), in one transaction: concurrent redemptions never exceed the
  // token's uses nor share a name. A hostname token names the device after r.wanted_name
  // exactly, else after its hostname, with "-2", "-3", ... when that name is taken (by a
  // device, revoked or not, or by another token's name). Refusals are returned (and recorded as
  // an "enroll.refused" event); throws std::runtime_error only if the key is already
  // registered to another device.
  virtual RedeemResult redeem_enrollment(const Redemption& r) = 0;
  RedeemResult redeem_enrollment(const std::string& token_hash, const std::string& fingerprint,
                                 const std::string& key_line, Time when) {
    return redeem_enrollment(Redemption{token_hash, fingerprint, key_line, "", "", when});
  }
  // Ends a token's remaining uses ("enroll.revoked" event); false if no token has this ID.
  // Revoking twice is not an error.
  virtual bool revoke_enrollment(const std::string& id, const std::string& by, Time when) = 0;
  virtual void device_seen(const std::string& name, const std::string& status,
                           const nlohmann::json& info, Time when) = 0;
  // A live session's device sent its info again: the session's info and, for an enrolled
  // device that is not revoked, the device's. An ended session is left as it ended.
  virtual void update_device_info(const std::string& session_id, const std::string& device,
                                  const nlohmann::json& info) = 0;

  // Operators and grants (relay/store/operators.cpp). Throw std::runtime_error with a clear
  // message on duplicates; the remove functions return false if there was nothing to remove.
  virtual void add_operator(const std::string& name, const std::string& key_line,
                            const std::string& fingerprint, Time when) = 0;
  virtual bool remove_operator(const std::string& name, Time when) = 0;
  virtual std::vector<OperatorRow> list_operators() = 0;
  virtual void add_grant(const std::string& operator_name, const std::string& device,
                         Time when) = 0;
  virtual bool remove_grant(const std::string& operator_name, const std::string& device,
                            Time when) = 0;
  virtual std::vector<GrantRow> list_grants() = 0;
  // Groups of enrolled devices (relay/store/groups.cpp). Each returns the groups it changed
  // (already a member / not a member: skipped), with one event per change. Throws
  // std::runtime_error for a device never enrolled or one past kMaxGroupsPerDevice.
  virtual std::vector<std::string> add_device_groups(const std::string& device,
                                                     const std::vector<std::string>& groups,
                                                     const std::string& by, Time when) = 0;
  virtual std::vector<std::string> remove_device_groups(const std::string& device,
                                                        const std::vector<std::string>& groups,
                                                        const std::string& by, Time when) = 0;
  // Fills the operator and grant parts of a snapshot.
  virtual void load_operator_snapshot(KeySnapshot& snapshot) = 0;

  // --- audit rows from the live path (relay/store/audit_writes.cpp) ---
  virtual void insert_attachment(const AttachmentStart& a) = 0;
  // Ends an open attachment and its open channels; no-op if already ended.
  virtual void end_attachment(std::int64_t id, const std::string& reason, Time when) = 0;
  virtual void insert_channel(const ChannelStart& c) = 0;
  // Sets the channel's outcome and byte counts (also after end_session already closed it).
  virtual void end_channel(const ChannelEnd& c) = 0;
  // The byte counts of channels still open (a channel already ended keeps its final counts).
  virtual void update_channel_bytes(const std::vector<ChannelBytes>& rows) = 0;
  // The largest attachment and channel IDs stored (0 when none): where the allocators start.
  virtual std::pair<std::int64_t, std::int64_t> max_audit_ids() = 0;
  // Marks an enrolled device revoked (its key refused from then on) with a "device.revoked"
  // event; false if no such device. Revoking twice is not an error.
  virtual bool revoke_device(const std::string& name, const std::string& by, Time when) = 0;
  // Every attachment of a session (channels nested) and every channel of an attachment, oldest
  // first (relay/store/audit_queries.cpp).
  virtual std::vector<AttachmentRow> attachment_rows(const std::string& session_id) = 0;
  virtual std::vector<ChannelRow> channel_rows(std::int64_t attachment) = 0;
  // --- end of the audit-live block ---

  // --- reads ---
  virtual std::vector<DeviceRow> list_devices() = 0;
  virtual std::optional<DeviceRow> find_device(const std::string& name) = 0;
  virtual std::vector<SessionRow> list_sessions(bool active_only) = 0;
  virtual std::optional<SessionRow> find_session(const std::string& id) = 0;
  virtual std::vector<TunnelKeyRow> list_tunnel_keys() = 0;
  virtual std::vector<EnrollmentRow> list_enrollments() = 0;
  virtual std::vector<nlohmann::json> list_events(const std::string& kind_prefix, int limit) = 0;
  virtual KeySnapshot load_key_snapshot() = 0;

  // --- audit reads and retention (relay/store/audit_queries.cpp) ---
  // Throws std::invalid_argument for a limit or page out of range or too many kinds.
  virtual AuditPage query_audit(const AuditFilter& filter) = 0;
  // Every session with this ID, newest first (only the newest unless all), with its story.
  virtual std::vector<SessionStory> session_stories(const std::string& id, bool all) = 0;
  // nullopt for a device never enrolled.
  virtual std::optional<DeviceStory> device_story(const std::string& name, int recent_sessions) = 0;
  // Deletes events older than cutoff and sessions that ended before it, with their attachments
  // and channels; never a row of a live session. Records one "audit.pruned" event (at when) if
  // it deleted anything. Runs prune_audit_batch until done, each batch in its own transaction
  // when called outside one (the relay runs the batches as separate store jobs instead).
  virtual PruneResult prune_audit(Time cutoff, Time when) = 0;
  // One batch of that prune: deletes at most max_rows rows, continuing from cursor (which it
  // advances; cursor.done() once nothing older than cutoff is left to delete).
  virtual PruneResult prune_audit_batch(Time cutoff, PruneCursor& cursor,
                                        int max_rows = kPruneBatchRows) = 0;
  // The "audit.pruned" event of a whole prune: the row counts plus extra (recordings).
  virtual void record_prune(Time cutoff, const PruneResult& total, const nlohmann::json& extra,
                            Time when) = 0;
  // Every session that had this ID, oldest first: whom a recording in recordings/ID/ belongs to.
  virtual std::vector<SessionSpan> session_spans(const std::string& id) = 0;

  // A number that changes when another connection commits (not this one's own commits).
  virtual std::int64_t data_version() = 0;

  // --- for the writer thread (Store) ---
  // True once since the last call if the keys behind KeySnapshot (devices, operators, grants)
  // may have changed, by this connection or another one.
  virtual bool keys_changed() = 0;
  // True inside transaction() when an error has already undone the enclosing transaction
  // (disk full, I/O error): the work after it would not be atomic with the work before.
  virtual bool transaction_lost() = 0;

 protected:
  Db() = default;
};

// The writer thread. Jobs run in FIFO order; consecutive queued jobs share one transaction.
//
// When the disk refuses a batch (full, I/O error: SQLite undoes the whole transaction), the
// batch is kept in memory and written again, whole and in order, with a growing pause (up to
// kMaxRetryDelay), until it commits; nothing posted after it is written before it, so rows
// that refer to earlier ones (a channel to its attachment) still find them. A job may thus run
// more than once: what it does outside the database goes through Db::after_commit. Jobs
// waiting meanwhile are bounded by max_queue: past it, new jobs are refused and counted
// (dropped(), drop_cause()). Once writing works again, one "store.write_failed" event records
// the outage.
class Store {
 public:
  using Job = std::function<void(Db&)>;
  static constexpr std::chrono::milliseconds kFirstRetryDelay{50};
  static constexpr std::chrono::milliseconds kMaxRetryDelay{1000};
  // How long a stopping store still tries to write what the disk refuses before giving it up.
  static constexpr std::chrono::milliseconds kStopRetryFor{2000};

  // max_queue bounds memory; a job posted to a full queue is refused, counted and logged.
  // Opens the database with create=false (it must have been initialised).
  explicit Store(const std::filesystem::path& file, std::size_t max_queue = 200000);
  // Drains the queue, then stops the thread (giving up, logged, after kStopRetryFor if the
  // disk keeps refusing).
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Never blocks (beyond a mutex). False if the queue was full (the job is dropped and counted).
  bool post(Job job);
  // Blocks the caller until every job posted before it has run (and been committed: while the
  // disk refuses writes, that is when it has room again). Not for reactor threads.
  void flush();
  // flush() for at most `limit`; false if jobs posted before it are still waiting.
  bool flush_for(std::chrono::milliseconds limit);
  using OnKeys = std::function<void(std::shared_ptr<const KeySnapshot>)>;
  // Calls on_change (on the writer thread) with a fresh snapshot at start and whenever
  // another connection (the admin CLI) or a job changed the keys; checked every poll period.
  void watch_keys(OnKeys on_change,
                  std::chrono::milliseconds poll = std::chrono::milliseconds(500));
  // Re-reads the keys now, without waiting for the poll: the writer thread reads them after the
  // batch it is running (ahead of queued jobs), hands a changed snapshot to watch_keys'
  // on_change, then calls done with the snapshot now published (null if the read failed). done
  // runs on the writer thread: it should only post its answer elsewhere. Counts as a job for
  // flush(). For an admin change committed by another connection that must apply at once.
  void refresh_keys(OnKeys done);
  std::uint64_t dropped() const;
  std::size_t queued() const;
  // Jobs dropped since `reported` (a previous dropped()), once the queue is below half full
  // again, so that recording the loss has room; 0 before that (not only once it is empty:
  // under steady load it may never be).
  std::uint64_t drops_to_report(std::uint64_t reported) const;
  // Why the latest job was dropped: "" if the writer was merely behind, else the error with
  // which the disk was refusing writes at that moment (or that undid its batch).
  std::string drop_cause() const;
  // True while the disk refuses writes (from the writer's first refusal until a batch commits).
  bool writes_refused() const;

 private:
  // The disk refusing writes: since when, how often, the latest error (writer thread only).
  struct Outage {
    Time since;
    std::chrono::steady_clock::time_point since_steady;
    std::uint64_t attempts = 0;
    std::string error;
    std::chrono::milliseconds delay{0};
    std::chrono::steady_clock::time_point retry_at;
    std::chrono::steady_clock::time_point logged;
  };
  // How check_keys decides to read and publish: when data_version says the keys may have
  // changed; read now and publish if different; read and publish whatever it holds.
  enum class KeyCheck { kIfChanged, kReload, kPublish };
  // What the writer does next: refresh_keys() callers to answer, and whether to (try to) write
  // `batch` (a kept batch waits for its retry time).
  struct Turn {
    KeyCheck how = KeyCheck::kIfChanged;
    bool write = false;
  };
  void run();
  // Takes the next batch from the queue, or waits for the retry of the one kept, and the
  // refresh_keys() callers; false to stop.
  bool next_turn(std::deque<Job>& batch, std::vector<OnKeys>& refreshes, OnKeys& on_keys,
                 Turn& turn);
  // kRefused: the disk refused it (kept, tried again); kFailed: anything else undid it
  // (dropped, counted). `error` says why.
  enum class Outcome { kCommitted, kRefused, kFailed };
  Outcome run_batch(std::deque<Job>& batch, std::string& error);
  void refused(std::size_t batch_size, const std::string& error);
  void lost(std::size_t batch_size, const std::string& error);
  void recovered(std::size_t batch_size);
  void give_up(std::deque<Job>& batch);
  void answer_refreshes(const OnKeys& on_keys, std::vector<OnKeys>& waiters, KeyCheck how);
  std::shared_ptr<const KeySnapshot> check_keys(const OnKeys& on_change, KeyCheck how);
  std::unique_ptr<Db> db_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable drained_cv_;
  std::deque<Job> queue_;
  std::size_t max_queue_;
  std::uint64_t dropped_ = 0;
  std::uint64_t posted_ = 0;
  std::uint64_t done_ = 0;
  bool stop_ = false;
  OnKeys on_keys_;
  std::chrono::milliseconds keys_poll_{500};
  bool keys_force_ = false;  // watch_keys() was called: deliver a snapshot unconditionally
  std::vector<OnKeys> keys_refreshes_;            // refresh_keys() callers waiting for the writer
  std::shared_ptr<const KeySnapshot> keys_last_;  // writer thread only
  std::int64_t keys_generation_ = 0;              // writer thread only
  bool keys_retry_ = false;  // writer thread only: the last read failed, read again next time
  std::chrono::steady_clock::time_point drop_warned_{};
  std::string refusing_error_;    // under mu_: the disk's error while it refuses writes, else ""
  std::string drop_cause_;        // under mu_
  std::optional<Outage> outage_;  // writer thread only
  std::chrono::steady_clock::time_point stop_seen_{};  // writer thread only
  std::thread thread_;
};

}  // namespace sb::store
