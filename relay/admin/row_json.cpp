#include "relay/admin/row_json.hpp"

#include <algorithm>

namespace sb::store {

using nlohmann::json;

namespace {

// Every time field goes through these: the stored UTC text (ISO-8601), null or "" when unset.
json time_json(Time time) {
  return iso8601_utc(time);
}

json time_or_null(const std::optional<Time>& time) {
  return time ? time_json(*time) : json();
}

json time_or_empty(const std::optional<Time>& time) {
  return time ? time_json(*time) : json("");
}

json or_null(const std::string& s) {
  return s.empty() ? json() : json(s);
}

}  // namespace

void to_json(json& j, const OperatorRow& row) {
  j = {{"name", row.name},
       {"fingerprint", row.fingerprint},
       {"key", row.key},
       {"added", time_json(row.added)}};
}

void to_json(json& j, const GrantRow& row) {
  j = {{"operator", row.operator_name}, {"device", row.device}, {"added", time_json(row.added)}};
}

// name "" (JSON: null with from_hostname true) for a token that names devices after hostnames.
void to_json(json& j, const EnrollmentRow& row) {
  j = {{"id", row.id},
       {"name", or_null(row.name)},
       {"from_hostname", row.name.empty()},
       {"group", or_null(row.group)},
       {"max_uses", row.max_uses},
       {"uses", row.uses},
       {"created", time_json(row.created)},
       {"expires", time_json(row.expires)},
       {"used", time_or_null(row.used)},
       {"revoked", time_or_null(row.revoked)}};
}

// `device list` has always shown a device never seen with last_seen "" (the story: null).
void to_json(json& j, const DeviceRow& row) {
  j = {{"name", row.name},
       {"fingerprint", row.fingerprint},
       {"status", row.status},
       {"enrolled", time_json(row.enrolled)},
       {"last_seen", time_or_empty(row.last_seen)},
       {"info", row.info},
       {"groups", row.groups}};
}

// `session list` has always shown a missing source_addr or end_reason as "" (the story: null).
void to_json(json& j, const SessionRow& row) {
  j = {{"id", row.id},
       {"device", or_null(row.device)},
       {"kind", row.kind},
       {"fingerprint", row.fingerprint},
       {"source_addr", row.source_addr},
       {"started", time_json(row.started)},
       {"ended", time_or_null(row.ended)},
       {"end_reason", row.end_reason},
       {"active", !row.ended},
       {"held_since", time_or_null(row.held_since)},
       {"info", row.info}};
}

void to_json(json& j, const TunnelKeyRow& row) {
  j = {{"fingerprint", row.fingerprint},
       {"device", or_null(row.device)},
       {"session_id", row.session_id},
       {"since", time_json(row.since)}};
}

void to_json(json& j, const AuditRow& row) {
  j = {{"id", row.id},
       {"time", time_json(row.time)},
       {"kind", row.kind},
       {"actor", or_null(row.actor)},
       {"session", or_null(row.session)},
       {"device", or_null(row.device)},
       {"operator", or_null(row.operator_name)},
       {"detail", row.detail},
       {"recorded", row.recorded}};
}

void to_json(json& j, const ChannelRow& row) {
  j = {{"id", row.id},
       {"kind", row.kind},
       {"target", or_null(row.target)},
       {"command", or_null(row.command)},
       {"exit_status", row.exit_status ? json(*row.exit_status) : json()},
       {"exit_signal", or_null(row.exit_signal)},
       {"bytes_in", row.bytes_in},
       {"bytes_out", row.bytes_out},
       {"started", time_json(row.started)},
       {"ended", time_or_null(row.ended)}};
}

void to_json(json& j, const AttachmentRow& row) {
  j = {{"id", row.id},
       {"operator", row.operator_name},
       {"fingerprint", row.fingerprint},
       {"mode", row.mode},
       {"source_addr", or_null(row.source_addr)},
       {"started", time_json(row.started)},
       {"ended", time_or_null(row.ended)},
       {"end_reason", or_null(row.end_reason)},
       {"channels", row.channels}};
}

void to_json(json& j, const RecordingRef& row) {
  j = {{"path", row.path},
       {"kind", row.kind},
       {"operator", or_null(row.operator_name)},
       {"started", time_json(row.started)},
       {"failed", or_null(row.failed)},
       {"kept", row.kept}};
}

// A recent session in a device's story: who attached instead of the device and its key.
void to_json(json& j, const SessionSummary& summary) {
  const SessionRow& s = summary.session;
  j = {{"id", s.id},
       {"source_addr", or_null(s.source_addr)},
       {"started", time_json(s.started)},
       {"ended", time_or_null(s.ended)},
       {"end_reason", or_null(s.end_reason)},
       {"active", !s.ended},
       {"held_since", time_or_null(s.held_since)},
       {"operators", summary.operators}};
}

void to_json(json& j, const SessionStory& story) {
  j = story.session;
  j["source_addr"] = or_null(story.session.source_addr);
  j["end_reason"] = or_null(story.session.end_reason);
  j["attachments"] = story.attachments;
  j["events"] = story.events;
  j["events_total"] = story.events_total;
  j["recordings"] = story.recordings;
}

void to_json(json& j, const DeviceStory& story) {
  j = story.device;
  j["status"] = story.status;
  j["last_seen"] = time_or_null(story.device.last_seen);
  j["address"] = or_null(story.address);
  // grants: every operator who may join it, once; group_grants: those through a group.
  json grants = json::array();
  json group_grants = json::array();
  for (const auto& g : story.grants) {
    if (std::find(grants.begin(), grants.end(), g.operator_name) == grants.end())
      grants.push_back(g.operator_name);
    if (g.device != story.device.name)
      group_grants.push_back({{"operator", g.operator_name}, {"group", g.device.substr(1)}});
  }
  j["grants"] = std::move(grants);
  j["group_grants"] = std::move(group_grants);
  j["recent_sessions"] = story.recent_sessions;
}

}  // namespace sb::store
