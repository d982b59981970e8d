// Audit rows written from the live path: operators' attachments and their channels (IDs assigned
// by the relay), and device revocation by the admin CLI.
#include <stdexcept>
#include <string>
#include <vector>

#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

using detail::require;
using detail::Statement;

namespace {

// Byte counts are stored as SQLite integers (signed 64 bits).
std::int64_t as_int64(std::uint64_t n) {
  return n > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(n);
}

}  // namespace

void SqliteDb::insert_attachment(const AttachmentStart& a) {
  require(a.id > 0, "insert_attachment: id must be positive");
  require(!a.session_id.empty() && !a.operator_name.empty() && !a.fingerprint.empty() &&
              !a.mode.empty() && a.started != Time{},
          "insert_attachment: session, operator, fingerprint, mode and start are required");
  Statement(*this,
            "INSERT INTO attachments (id, session_id, operator, fingerprint, mode, source_addr, "
            "started) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
      .bind(1, a.id)
      .bind(2, a.session_id)
      .bind(3, a.operator_name)
      .bind(4, a.fingerprint)
      .bind(5, a.mode)
      .bind_opt(6, a.source_addr)
      .bind(7, a.started)
      .run();
}

void SqliteDb::end_attachment(std::int64_t id, const std::string& reason, Time when) {
  transaction([&] {
    Statement(*this, "UPDATE channels SET ended = ?1 WHERE attachment = ?2 AND ended IS NULL")
        .bind(1, when)
        .bind(2, id)
        .run();
    Statement(*this,
              "UPDATE attachments SET ended = ?1, end_reason = ?2 WHERE id = ?3 AND ended IS NULL")
        .bind(1, when)
        .bind(2, reason)
        .bind(3, id)
        .run();
  });
}

void SqliteDb::insert_channel(const ChannelStart& c) {
  require(c.id > 0 && c.attachment > 0, "insert_channel: ids must be positive");
  require(!c.kind.empty() && c.started != Time{}, "insert_channel: kind and start are required");
  Statement(*this,
            "INSERT INTO channels (id, attachment, kind, target, command, started) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
      .bind(1, c.id)
      .bind(2, c.attachment)
      .bind(3, c.kind)
      .bind_opt(4, c.target)
      .bind_opt(5, c.command)
      .bind(6, c.started)
      .run();
}

void SqliteDb::end_channel(const ChannelEnd& c) {
  Statement st(*this,
               "UPDATE channels SET exit_status = ?1, exit_signal = ?2, bytes_in = ?3, "
               "bytes_out = ?4, ended = ?5 WHERE id = ?6");
  if (c.exit_status)
    st.bind(1, *c.exit_status);
  else
    st.bind_null(1);
  st.bind_opt(2, c.exit_signal)
      .bind(3, as_int64(c.bytes_in))
      .bind(4, as_int64(c.bytes_out))
      .bind(5, c.ended)
      .bind(6, c.id)
      .run();
}

void SqliteDb::update_channel_bytes(const std::vector<ChannelBytes>& rows) {
  transaction([&] {
    for (const ChannelBytes& row : rows) {
      Statement(*this,
                "UPDATE channels SET bytes_in = ?1, bytes_out = ?2 WHERE id = ?3 AND ended IS NULL")
          .bind(1, as_int64(row.bytes_in))
          .bind(2, as_int64(row.bytes_out))
          .bind(3, row.id)
          .run();
    }
  });
}

std::pair<std::int64_t, std::int64_t> SqliteDb::max_audit_ids() {
  Statement st(*this,
               "SELECT (SELECT COALESCE(MAX(id), 0) FROM attachments), "
               "(SELECT COALESCE(MAX(id), 0) FROM channels)");
  if (!st.step()) return {0, 0};
  return {st.int64(0), st.int64(1)};
}

bool SqliteDb::revoke_device(const std::string& name, const std::string& by, Time when) {
  bool found = false;
  transaction([&] {
    std::string fingerprint;
    {
      Statement st(*this, "SELECT fingerprint FROM devices WHERE name = ?1");
      st.bind(1, name);
      if (!st.step()) return;
      fingerprint = st.text(0);
    }
    found = true;
    Statement(*this, "UPDATE devices SET status = 'revoked' WHERE name = ?1").bind(1, name).run();
    add_event(events::kDeviceRevoked, "admin:" + by,
              {{"device", name}, {"fingerprint", fingerprint}, {"by", by}}, when);
  });
  return found;
}

}  // namespace sb::store
