// Enrollment tokens: creation, redemption (the device row is born here), listing, revocation.
// A token enrolls one named device (the default) or up to max_uses devices, each named after
// its hostname; every use and every refusal is an audit event.
#include <spdlog/spdlog.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/names.hpp"
#include "keys/keys.hpp"
#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

using detail::Statement;

namespace {

// The token's public ID: 12 hex digits of a hash of its hash, which says nothing about the
// token. (Tokens stored before IDs existed got the head of their hash: as opaque.)
std::string token_id(const std::string& token_hash) {
  return keys::hash_token(token_hash).substr(0, 12);
}

// "" if there is no device of that name, else its status.
std::string device_status(SqliteDb& db, const std::string& name) {
  Statement st(db, "SELECT status FROM devices WHERE name = ?1");
  st.bind(1, name);
  return st.step() ? st.text(0) : std::string();
}

const char* refusal_reason(RedeemStatus status) {
  switch (status) {
    case RedeemStatus::kUnknownToken:
      return "unknown_token";
    case RedeemStatus::kExpired:
      return "expired";
    case RedeemStatus::kAlreadyUsed:
      return "already_used";
    case RedeemStatus::kNameTaken:
      return "name_taken";
    case RedeemStatus::kRevoked:
      return "revoked";
    case RedeemStatus::kBadHostname:
      return "bad_hostname";
    case RedeemStatus::kOk:
      break;
  }
  return "ok";
}

struct Token {
  std::string id;
  std::string name;  // the device name it enrolls, "" for hostnames
  std::string group;
  Time expires;
  int max_uses = 1;
  int uses = 0;
  bool revoked = false;
};

std::optional<Token> find_token(SqliteDb& db, const std::string& token_hash) {
  Statement st(db,
               "SELECT id, name, COALESCE(device_group, ''), expires, max_uses, uses, revoked "
               "FROM enrollments WHERE token_hash = ?1");
  st.bind(1, token_hash);
  if (!st.step()) return std::nullopt;
  return Token{st.text(0),
               st.text(1),
               st.text(2),
               st.time(3),
               static_cast<int>(st.int64(4)),
               static_cast<int>(st.int64(5)),
               !st.is_null(6)};
}

// Whether the token may enroll a device now.
RedeemStatus check_token(const std::optional<Token>& token, Time when) {
  if (!token) return RedeemStatus::kUnknownToken;
  if (token->revoked) return RedeemStatus::kRevoked;
  if (token->uses >= token->max_uses) return RedeemStatus::kAlreadyUsed;
  if (token->expires < when) return RedeemStatus::kExpired;
  return RedeemStatus::kOk;
}

bool name_is_taken(const std::string& device_status) {
  return !device_status.empty() && device_status != "revoked";
}

void record_refusal(SqliteDb& db, const char* reason, const Redemption& r, const std::string& name,
                    const std::optional<Token>& token) {
  nlohmann::json detail = {{"reason", reason}, {"fingerprint", r.fingerprint}};
  if (!name.empty()) detail["name"] = name;
  if (token) detail["token"] = token->id;
  if (!r.hostname.empty()) detail["hostname"] = r.hostname;
  db.add_event(events::kEnrollRefused, r.fingerprint, detail, r.when);
  spdlog::info("store: enrollment refused ({}) for {}{}", reason, r.fingerprint,
               name.empty() ? "" : " as '" + name + "'");
}

// The device other than `name` that already has this key, or "".
std::string other_owner_of_key(SqliteDb& db, const std::string& fingerprint,
                               const std::string& name) {
  Statement st(db, "SELECT name FROM devices WHERE fingerprint = ?1 AND name != ?2");
  st.bind(1, fingerprint).bind(2, name);
  return st.step() ? st.text(0) : std::string();
}

// A name a hostname token may give: no device has it (revoked ones keep their name for their
// history), and no other token that may still be used promises it.
bool name_is_free(SqliteDb& db, const std::string& name, Time when) {
  if (!device_status(db, name).empty()) return false;
  Statement st(db,
               "SELECT 1 FROM enrollments WHERE name = ?1 AND revoked IS NULL AND "
               "uses < max_uses AND expires >= ?2");
  st.bind(1, name).bind(2, when);
  return !st.step();
}

// The hostname's name, or the first free one of name-2, name-3, ...; "" if none is free.
std::string free_name_for(SqliteDb& db, const std::string& base, Time when) {
  if (name_is_free(db, base, when)) return base;
  for (int n = 2; n <= kMaxNameSuffix; ++n) {
    std::string candidate = name_with_suffix(base, n);
    if (valid_name(candidate) && name_is_free(db, candidate, when)) return candidate;
  }
  return {};
}

void register_device(SqliteDb& db, const std::string& name, const std::string& key_line,
                     const std::string& fingerprint, bool replace_revoked, Time when) {
  // Re-enrollment of a revoked name replaces the old row (and its old key).
  if (replace_revoked) Statement(db, "DELETE FROM devices WHERE name = ?1").bind(1, name).run();
  Statement(db,
            "INSERT INTO devices (name, key, fingerprint, enrolled, status, last_seen) "
            "VALUES (?1, ?2, ?3, ?4, 'online', ?4)")
      .bind(1, name)
      .bind(2, key_line)
      .bind(3, fingerprint)
      .bind(4, when)
      .run();
}

// Takes one use; the guard in the WHERE clause makes the count exact whatever else runs.
void use_token(SqliteDb& db, const std::string& token_hash, const std::string& fingerprint,
               Time when) {
  const int changed = Statement(db,
                                "UPDATE enrollments SET uses = uses + 1, used = ?1, used_by = ?2 "
                                "WHERE token_hash = ?3 AND uses < max_uses")
                          .bind(1, when)
                          .bind(2, fingerprint)
                          .bind(3, token_hash)
                          .run();
  if (changed != 1) throw std::logic_error("enrollment token use counted twice");
}

}  // namespace

std::string SqliteDb::create_enrollment(const NewEnrollment& token) {
  const std::string& name = token.name;
  if (!name.empty() && !valid_name(name))
    throw std::invalid_argument("'" + name + "' is not a valid device name");
  if (reserved_device_name(name))
    throw std::runtime_error("'" + name + "' is reserved by the relay; choose another device name");
  if (!token.group.empty() && !valid_name(token.group))
    throw std::invalid_argument("'" + token.group + "' is not a valid group name");
  if (token.max_uses < 1 || token.max_uses > kMaxEnrollUses)
    throw std::invalid_argument("a token's uses must be 1 to " + std::to_string(kMaxEnrollUses));
  if (!name.empty() && token.max_uses != 1)
    throw std::invalid_argument("a token for a named device has one use");
  if (token.token_hash.empty()) throw std::invalid_argument("create_enrollment: empty token hash");
  const std::string id = token_id(token.token_hash);
  transaction([&] {
    if (!name.empty() && name_is_taken(device_status(*this, name))) {
      throw std::runtime_error("device '" + name +
                               "' is already enrolled; revoke it first to enroll it again");
    }
    Statement(*this,
              "INSERT INTO enrollments (token_hash, id, name, device_group, max_uses, created, "
              "expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .bind(1, token.token_hash)
        .bind(2, id)
        .bind(3, name)
        .bind_opt(4, token.group)
        .bind(5, static_cast<std::int64_t>(token.max_uses))
        .bind(6, token.created)
        .bind(7, token.expires)
        .run();
    nlohmann::json detail = {
        {"name", name}, {"expires", iso8601_utc(token.expires)}, {"token", id}};
    if (name.empty()) {
      detail["from_hostname"] = true;
      detail["max_uses"] = token.max_uses;
    }
    if (!token.group.empty()) detail["group"] = token.group;
    add_event(events::kEnrollCreated, "", detail, token.created);
  });
  return id;
}

RedeemResult SqliteDb::redeem_enrollment(const Redemption& r) {
  RedeemResult result{RedeemStatus::kUnknownToken, "", 0};
  std::string key_owner;  // another device already registered with this key
  transaction([&] {
    const std::optional<Token> token = find_token(*this, r.token_hash);
    if (token) result.max_uses = token->max_uses;
    result.status = check_token(token, r.when);
    if (result.status != RedeemStatus::kOk) {
      // Committed as an event; the token stays as it was.
      return record_refusal(*this, refusal_reason(result.status), r, token ? token->name : "",
                            token);
    }
    // The name: the token's; else the agent's own --name, exactly; else its hostname's, made
    // unique with a suffix.
    std::string name = token->name;
    if (name.empty() && !r.wanted_name.empty()) {
      name = r.wanted_name;
      if (!valid_name(name) || reserved_device_name(name) || !name_is_free(*this, name, r.when)) {
        result.status = RedeemStatus::kNameTaken;
        return record_refusal(*this, refusal_reason(result.status), r, name, token);
      }
    }
    if (name.empty()) {
      const std::string base = device_name_from_hostname(r.hostname);
      if (base.empty()) {
        result.status = RedeemStatus::kBadHostname;
        return record_refusal(*this, refusal_reason(result.status), r, "", token);
      }
      name = free_name_for(*this, base, r.when);
      if (name.empty()) {
        result.status = RedeemStatus::kNameTaken;
        return record_refusal(*this, refusal_reason(result.status), r, base, token);
      }
    }
    const std::string status = device_status(*this, name);
    if (name_is_taken(status)) {
      result.status = RedeemStatus::kNameTaken;
      return record_refusal(*this, refusal_reason(result.status), r, name, token);
    }
    key_owner = other_owner_of_key(*this, r.fingerprint, name);
    if (!key_owner.empty()) {
      result.status = RedeemStatus::kNameTaken;  // replaced by the exception below
      return record_refusal(*this, "key_in_use", r, name, token);
    }
    register_device(*this, name, r.key_line, r.fingerprint, status == "revoked", r.when);
    use_token(*this, r.token_hash, r.fingerprint, r.when);
    nlohmann::json detail = {
        {"device", name},     {"fingerprint", r.fingerprint}, {"replaced_revoked", !status.empty()},
        {"token", token->id}, {"use", token->uses + 1},       {"max_uses", token->max_uses}};
    if (!r.hostname.empty()) detail["hostname"] = r.hostname;
    if (!token->group.empty()) {
      Statement(*this,
                "INSERT OR IGNORE INTO device_groups (device, grp, added) VALUES (?1, ?2, ?3)")
          .bind(1, name)
          .bind(2, token->group)
          .bind(3, r.when)
          .run();
      detail["group"] = token->group;
    }
    add_event(events::kDeviceEnrolled, r.fingerprint, detail, r.when);
    result.device = name;
  });
  if (!key_owner.empty()) {
    throw std::runtime_error("key " + r.fingerprint + " is already registered to device '" +
                             key_owner + "'");
  }
  if (result.status == RedeemStatus::kOk) {
    spdlog::info("store: device '{}' enrolled with key {}", result.device, r.fingerprint);
  }
  return result;
}

bool SqliteDb::revoke_enrollment(const std::string& id, const std::string& by, Time when) {
  bool found = false;
  transaction([&] {
    Statement st(*this, "SELECT name, revoked FROM enrollments WHERE id = ?1");
    st.bind(1, id);
    if (!st.step()) return;
    found = true;
    if (!st.is_null(1)) return;  // already revoked
    const std::string name = st.text(0);
    Statement(*this, "UPDATE enrollments SET revoked = ?1 WHERE id = ?2")
        .bind(1, when)
        .bind(2, id)
        .run();
    nlohmann::json detail = {{"token", id}, {"by", by}};
    if (!name.empty()) detail["name"] = name;
    add_event(events::kEnrollRevoked, "admin:" + by, detail, when);
  });
  return found;
}

std::vector<EnrollmentRow> SqliteDb::list_enrollments() {
  Statement st(*this,
               "SELECT id, name, COALESCE(device_group, ''), max_uses, uses, created, expires, "
               "used, revoked FROM enrollments ORDER BY created DESC, rowid DESC");
  std::vector<EnrollmentRow> rows;
  while (st.step()) {
    EnrollmentRow row;
    row.id = st.text(0);
    row.name = st.text(1);
    row.group = st.text(2);
    row.max_uses = static_cast<int>(st.int64(3));
    row.uses = static_cast<int>(st.int64(4));
    row.created = st.time(5);
    row.expires = st.time(6);
    row.used = st.opt_time(7);
    row.revoked = st.opt_time(8);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace sb::store
