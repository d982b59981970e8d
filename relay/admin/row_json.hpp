// How the admin's --json outputs show the store's rows: one nlohmann `to_json` per row type, all
// in row_json.cpp, so that a change to a row (such as the type of its times) is made in one place.
// Times are the stored UTC text. Found by argument-dependent lookup, so `nlohmann::json(rows)`
// turns a vector of rows into an array.
#pragma once
#include <nlohmann/json.hpp>

#include "relay/store/store.hpp"

namespace sb::store {

// The rows of the `list` verbs (`relay operator list --json`, ...).
void to_json(nlohmann::json& j, const OperatorRow& row);
void to_json(nlohmann::json& j, const GrantRow& row);
void to_json(nlohmann::json& j, const EnrollmentRow& row);
void to_json(nlohmann::json& j, const DeviceRow& row);
void to_json(nlohmann::json& j, const SessionRow& row);
void to_json(nlohmann::json& j, const TunnelKeyRow& row);

// `relay audit --json`, and the parts of the session and device stories (`show --json`).
void to_json(nlohmann::json& j, const AuditRow& row);
void to_json(nlohmann::json& j, const ChannelRow& row);
void to_json(nlohmann::json& j, const AttachmentRow& row);
void to_json(nlohmann::json& j, const RecordingRef& row);
void to_json(nlohmann::json& j, const SessionSummary& summary);
void to_json(nlohmann::json& j, const SessionStory& story);
void to_json(nlohmann::json& j, const DeviceStory& story);

}  // namespace sb::store
