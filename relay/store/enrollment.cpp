// One-time enrollment tokens: creation, redemption (the device row is born here), listing.
#include <spdlog/spdlog.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/names.hpp"
#include "relay/store/sql.hpp"
#include "relay/store/store.hpp"

namespace sb::store {

using detail::Statement;

namespace {

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
    case RedeemStatus::kOk:
      break;
  }
  return "ok";
}

struct Token {
  std::string name;  // the device name it enrolls
  Time expires;
  bool used = false;
};

std::optional<Token> find_token(SqliteDb& db, const std::string& token_hash) {
  Statement st(db, "SELECT name, expires, used FROM enrollments WHERE token_hash = ?1");
  st.bind(1, token_hash);
  if (!st.step()) return std::nullopt;
  return Token{st.text(0), st.time(1), !st.is_null(2)};
}

// Whether the token may enroll its device now (device_status: see device_status()).
RedeemStatus check_token(const std::optional<Token>& token, const std::string& device_status,
                         Time when) {
  if (!token) return RedeemStatus::kUnknownToken;
  if (token->used) return RedeemStatus::kAlreadyUsed;
  if (token->expires < when) return RedeemStatus::kExpired;
  if (!device_status.empty() && device_status != "revoked") return RedeemStatus::kNameTaken;
  return RedeemStatus::kOk;
}

void record_refusal(SqliteDb& db, const char* reason, const std::string& fingerprint,
                    const std::string& name, Time when) {
  nlohmann::json detail = {{"reason", reason}, {"fingerprint", fingerprint}};
  if (!name.empty()) detail["name"] = name;
  db.add_event(events::kEnrollRefused, fingerprint, detail, when);
  spdlog::info("store: enrollment refused ({}) for {}{}", reason, fingerprint,
               name.empty() ? "" : " as '" + name + "'");
}

// The device other than `name` that already has this key, or "".
std::string other_owner_of_key(SqliteDb& db, const std::string& fingerprint,
                               const std::string& name) {
  Statement st(db, "SELECT name FROM devices WHERE fingerprint = ?1 AND name != ?2");
  st.bind(1, fingerprint).bind(2, name);
  return st.step() ? st.text(0) : std::string();
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

void use_token(SqliteDb& db, const std::string& token_hash, const std::string& fingerprint,
               Time when) {
  Statement(db, "UPDATE enrollments SET used = ?1, used_by = ?2 WHERE token_hash = ?3")
      .bind(1, when)
      .bind(2, fingerprint)
      .bind(3, token_hash)
      .run();
}

}  // namespace

void SqliteDb::create_enrollment(const std::string& name, const std::string& token_hash,
                                 Time created, Time expires) {
  if (name.empty()) throw std::invalid_argument("create_enrollment: empty device name");
  if (reserved_device_name(name))
    throw std::runtime_error("'" + name + "' is reserved by the relay; choose another device name");
  if (token_hash.empty()) throw std::invalid_argument("create_enrollment: empty token hash");
  transaction([&] {
    const std::string status = device_status(*this, name);
    if (!status.empty() && status != "revoked") {
      throw std::runtime_error("device '" + name +
                               "' is already enrolled; revoke it first to enroll it again");
    }
    Statement(*this,
              "INSERT INTO enrollments (token_hash, name, created, expires) "
              "VALUES (?1, ?2, ?3, ?4)")
        .bind(1, token_hash)
        .bind(2, name)
        .bind(3, created)
        .bind(4, expires)
        .run();
    add_event(events::kEnrollCreated, "", {{"name", name}, {"expires", iso8601_utc(expires)}},
              created);
  });
}

RedeemResult SqliteDb::redeem_enrollment(const std::string& token_hash,
                                         const std::string& fingerprint,
                                         const std::string& key_line, Time when) {
  RedeemResult result{RedeemStatus::kUnknownToken, ""};
  std::string key_owner;  // another device already registered with this key
  transaction([&] {
    const std::optional<Token> token = find_token(*this, token_hash);
    const std::string name = token ? token->name : std::string();
    const std::string status = token ? device_status(*this, name) : std::string();
    result.status = check_token(token, status, when);
    if (result.status != RedeemStatus::kOk) {
      // Committed as an event; the token stays as it was.
      return record_refusal(*this, refusal_reason(result.status), fingerprint, name, when);
    }
    key_owner = other_owner_of_key(*this, fingerprint, name);
    if (!key_owner.empty()) {
      result.status = RedeemStatus::kNameTaken;  // replaced by the exception below
      return record_refusal(*this, "key_in_use", fingerprint, name, when);
    }
    register_device(*this, name, key_line, fingerprint, status == "revoked", when);
    use_token(*this, token_hash, fingerprint, when);
    add_event(
        events::kDeviceEnrolled, fingerprint,
        {{"device", name}, {"fingerprint", fingerprint}, {"replaced_revoked", !status.empty()}},
        when);
    result.device = name;
  });
  if (!key_owner.empty()) {
    throw std::runtime_error("key " + fingerprint + " is already registered to device '" +
                             key_owner + "'");
  }
  if (result.status == RedeemStatus::kOk) {
    spdlog::info("store: device '{}' enrolled with key {}", result.device, fingerprint);
  }
  return result;
}

std::vector<EnrollmentRow> SqliteDb::list_enrollments() {
  Statement st(*this,
               "SELECT name, created, expires, used FROM enrollments "
               "ORDER BY created DESC, rowid DESC");
  std::vector<EnrollmentRow> rows;
  while (st.step()) rows.push_back({st.text(0), st.time(1), st.time(2), st.opt_time(3)});
  return rows;
}

}  // namespace sb::store
