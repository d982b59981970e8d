// The SQLite backend of the store: private to relay/store (nothing else includes <sqlite3.h>).
#pragma once
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "relay/store/store.hpp"

namespace sb::store {

namespace detail {
class Statement;  // relay/store/sql.hpp
}

class SqliteDb final : public Db {
 public:
  // See Db::open.
  static std::unique_ptr<SqliteDb> open(const std::filesystem::path& file, bool create);
  ~SqliteDb() override;

  int schema_version() override;
  void transaction(const std::function<void()>& fn) override;
  void after_commit(std::function<void()> fn) override;
  void insert_session(const SessionStart& s) override;
  void end_session(const std::string& id, const std::string& reason, Time when) override;
  int purge_stale(const std::string& reason, Time when) override;
  int purge_orphan_tunnel_keys(Time when) override;
  void add_event(const EventKind& kind, const std::string& actor, const nlohmann::json& detail,
                 Time when) override;
  using Db::create_enrollment;
  using Db::redeem_enrollment;
  std::string create_enrollment(const NewEnrollment& token) override;
  RedeemResult redeem_enrollment(const Redemption& r) override;
  bool revoke_enrollment(const std::string& id, const std::string& by, Time when) override;
  void device_seen(const std::string& name, const std::string& status, const nlohmann::json& info,
                   Time when) override;
  void update_device_info(const std::string& session_id, const std::string& device,
                          const nlohmann::json& info) override;
  void add_operator(const std::string& name, const std::string& key_line,
                    const std::string& fingerprint, Time when) override;
  bool remove_operator(const std::string& name, Time when) override;
  std::vector<OperatorRow> list_operators() override;
  void add_grant(const std::string& operator_name, const std::string& device, Time when) override;
  bool remove_grant(const std::string& operator_name, const std::string& device,
                    Time when) override;
  std::vector<GrantRow> list_grants() override;
  std::vector<std::string> add_device_groups(const std::string& device,
                                             const std::vector<std::string>& groups,
                                             const std::string& by, Time when) override;
  std::vector<std::string> remove_device_groups(const std::string& device,
                                                const std::vector<std::string>& groups,
                                                const std::string& by, Time when) override;
  void load_operator_snapshot(KeySnapshot& snapshot) override;
  void insert_attachment(const AttachmentStart& a) override;
  void end_attachment(std::int64_t id, const std::string& reason, Time when) override;
  void insert_channel(const ChannelStart& c) override;
  void end_channel(const ChannelEnd& c) override;
  void update_channel_bytes(const std::vector<ChannelBytes>& rows) override;
  std::pair<std::int64_t, std::int64_t> max_audit_ids() override;
  bool revoke_device(const std::string& name, const std::string& by, Time when) override;
  std::vector<AttachmentRow> attachment_rows(const std::string& session_id) override;
  std::vector<ChannelRow> channel_rows(std::int64_t attachment) override;
  std::vector<DeviceRow> list_devices() override;
  std::optional<DeviceRow> find_device(const std::string& name) override;
  std::vector<SessionRow> list_sessions(bool active_only) override;
  std::optional<SessionRow> find_session(const std::string& id) override;
  std::vector<TunnelKeyRow> list_tunnel_keys() override;
  std::vector<EnrollmentRow> list_enrollments() override;
  std::vector<nlohmann::json> list_events(const std::string& kind_prefix, int limit) override;
  KeySnapshot load_key_snapshot() override;
  AuditPage query_audit(const AuditFilter& filter) override;
  std::vector<SessionStory> session_stories(const std::string& id, bool all) override;
  std::optional<DeviceStory> device_story(const std::string& name, int recent_sessions) override;
  PruneResult prune_audit(Time cutoff, Time when) override;
  PruneResult prune_audit_batch(Time cutoff, PruneCursor& cursor,
                                int max_rows = kPruneBatchRows) override;
  void record_prune(Time cutoff, const PruneResult& total, const nlohmann::json& extra,
                    Time when) override;
  std::vector<SessionSpan> session_spans(const std::string& id) override;
  std::int64_t data_version() override;
  bool keys_changed() override;
  bool transaction_lost() override;
  // Fills the group parts of a snapshot (relay/store/groups.cpp).
  void load_group_snapshot(KeySnapshot& snapshot);
  // The device's groups, sorted.
  std::vector<std::string> groups_of(const std::string& device);

 private:
  friend class detail::Statement;
  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  explicit SqliteDb(sqlite3* handle) : db_(handle) {}
  void migrate();
  void exec(const char* sql);  // no parameters, no result rows
  void run_after_commit();
  // add_device_groups / remove_device_groups: `change` (rows changed) for each group, in one
  // transaction; every group it changed is audited as `kind` and returned. `check` runs last,
  // inside the transaction (it throws to undo it all).
  std::vector<std::string> change_device_groups(
      const std::string& device, const std::vector<std::string>& groups,
      const std::function<int(const std::string& group)>& change, const EventKind& kind,
      const std::string& by, Time when, const std::function<void()>& check);
  sqlite3* db_;
  std::filesystem::path file_;
  std::unordered_map<std::string, CachedStatement> statements_;  // prepared once, reused
  int tx_depth_ = 0;  // 0: autocommit; 1: BEGIN; >1: nested SAVEPOINTs
  std::vector<std::function<void()>> after_commit_;  // run when the outer transaction commits
  bool keys_dirty_ = true;  // set (update hook) on writes to devices, operators, grants
  std::int64_t keys_version_seen_ = -1;  // data_version() when keys_changed() last looked
};

}  // namespace sb::store
